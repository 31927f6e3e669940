"""A real worker on the embedded broker: everything in comes out anonymized or in the DLQ."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastavro import schemaless_writer
from kafka.partitioner.default import murmur2
from leaky import LeakyTraffic, leaks
from support import REPO, Worker, unique_prefix

from processors.sample import Traffic, invalid_enum, malformed_records
from processors.schemas import SchemaCatalog
from streams.broker import EmbeddedBroker
from streams.client import Record, publish, read

pytestmark = pytest.mark.integration

OUTPUTS = ("orders.anonymized.v1", "logs.anonymized.v1", "dlq.v1")


def partition_of(key: bytes, partitions: int = 4) -> int:
    """Kafka's default partitioner (murmur2), as kafka-python applies it when publishing."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class Run:
    """One worker fed once; the tests below each check one property of what came out."""

    worker: Worker
    traffic: LeakyTraffic
    sent: int
    malformed: int
    valid_orders: int
    valid_logs: int
    customers: list[str]
    records: list[Record] = field(default_factory=list)

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.records if r.topic == self.worker.prefix + topic]


@pytest.fixture(scope="module")
def run(broker: EmbeddedBroker, examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One worker, fed once."""
    prefix = unique_prefix("worker")
    worker = Worker(broker.bootstrap, prefix, tmp_path_factory.mktemp("worker")).start()
    traffic = LeakyTraffic(examples_dir)
    people = [traffic.person(n) for n in range(25)]
    records: list[tuple[str, bytes | None, bytes | None]] = []
    orders = logs = 0
    for n, p in enumerate(people):
        key = p["customer_id"].encode()
        for _ in range(2):
            records.append((prefix + "orders.v1", key, json.dumps(traffic.order(p)).encode()))
            orders += 1
        records.append((prefix + "logs.v1", key, json.dumps(traffic.log(p, v6=n % 3 == 0)).encode()))
        records.append((prefix + "logs.v1", p["session"].encode(), json.dumps(traffic.log(p, anonymous=True)).encode()))
        logs += 2
    # an upstream that keys a subject's log by its session: the subject keeps one pseudonym
    home = partition_of(people[1]["customer_id"].encode())
    stray = next(k for k in (f"session-{n}".encode() for n in range(100)) if partition_of(k) != home)
    records.append((prefix + "logs.v1", stray, json.dumps(traffic.log(people[1])).encode()))
    logs += 1
    # the same order as Avro single-object encoding
    catalog = SchemaCatalog.load(REPO / "schemas")
    schema = catalog.for_topic("orders.v1")
    buffer = io.BytesIO()
    buffer.write(b"\xc3\x01" + schema.fingerprint)
    schemaless_writer(buffer, schema.parsed, traffic.order(people[0]))
    records.append((prefix + "orders.v1", people[0]["customer_id"].encode(), buffer.getvalue()))
    orders += 1
    bad = [raw for _, raw in malformed_records()] + [invalid_enum(Traffic(examples_dir, subjects=1))]
    bad.append(b"\xc3\x01" + schema.fingerprint + b"\x02")  # truncated Avro body
    records += [(prefix + "orders.v1", b"bad", raw) for raw in bad]
    records += [(prefix + "logs.v1", None, raw) for raw in bad[:3]]
    sent = publish(broker.bootstrap, records)
    result = Run(worker, traffic, sent, len(bad) + 3, orders, logs, [p["customer_id"] for p in people])
    result.records = list(read(broker.bootstrap, [prefix + t for t in OUTPUTS], expect=sent, timeout=90))
    yield result
    worker.stop()


def test_every_record_comes_out_anonymized_or_dead_lettered(run: Run) -> None:
    assert len(run.on("orders.anonymized.v1")) == run.valid_orders
    assert len(run.on("logs.anonymized.v1")) == run.valid_logs
    assert len(run.on("dlq.v1")) == run.malformed
    assert len(run.records) == run.sent


def test_metrics_account_for_records_in_out_and_dead(run: Run) -> None:
    w = run.worker
    records_in = w.metric("lethe_records_in_total")
    out = sum(w.metric("lethe_records_out_total", topic=w.prefix + t) for t in OUTPUTS[:2])
    dead = w.metric("lethe_records_dead_lettered_total")
    assert records_in == run.sent
    assert records_in == out + dead
    for partner in ("parcelco", "paynow"):   # the default partners get every valid order too
        assert w.metric("lethe_records_out_total", topic=f"{w.prefix}partners.{partner}.v1") == run.valid_orders
    assert dead == run.malformed
    assert w.metric("lethe_fields_tagged_total", category="contact.email") > 0
    assert w.metric("lethe_batch_processing_seconds_count", topic=w.prefix + "orders.v1") > 0


def test_no_personal_value_in_any_output_value_key_or_header(run: Run) -> None:
    secrets = run.traffic.secrets
    for record in run.on("orders.anonymized.v1") + run.on("logs.anonymized.v1"):
        blob = (record.value or b"") + b"|" + (record.key or b"") + b"|" + b"|".join(
            k.encode() + b"=" + v for k, v in record.headers.items())
        assert leaks(blob, secrets) == [], f"offset {record.offset} of {record.topic}"


def test_dlq_seals_the_original_bytes_and_names_the_rule_without_values(run: Run) -> None:
    secrets = run.traffic.secrets
    for record in run.on("dlq.v1"):
        assert leaks(record.value or b"", secrets) == []   # sealed (docs/dlq.md)
        headers = record.headers
        assert {"source_topic", "source_partition", "source_offset", "reason", "rule", "encoding",
                "failed_at"} <= set(headers)
        assert headers["source_topic"].decode() in (run.worker.prefix + "orders.v1", run.worker.prefix + "logs.v1")
        assert leaks(b"|".join(headers.values()), secrets) == []
    rules = {r.headers["rule"].decode() for r in run.on("dlq.v1")}
    assert {"json", "type", "required", "enum", "utf8", "max_size", "max_depth", "avro"} <= rules
    five_mb = [r for r in run.on("dlq.v1") if r.headers["rule"] == b"max_size"]
    assert five_mb and all(len(r.value or b"") > 5_000_000 for r in five_mb)


def test_each_subject_has_one_pseudonym_key_across_both_topics(run: Run) -> None:
    by_subject: dict[str, set[bytes]] = {}
    for record in run.on("orders.anonymized.v1") + run.on("logs.anonymized.v1"):
        value = json.loads(record.value or b"{}")
        assert record.key is not None
        if value["customer_id"] is not None:
            assert record.key == value["customer_id"].encode()
            by_subject.setdefault(value["customer_id"], set()).add(record.key)
    assert len(by_subject) == len(run.customers)
    assert all(len(keys) == 1 for keys in by_subject.values())
    orders_keys = {r.key for r in run.on("orders.anonymized.v1")}
    logs_keys = {r.key for r in run.on("logs.anonymized.v1")}
    assert len(orders_keys) == len(run.customers)
    assert orders_keys <= logs_keys


def test_outputs_are_tagged_and_free_text_derived(run: Run) -> None:
    order = json.loads(run.on("orders.anonymized.v1")[0].value or b"{}")
    tags = order["lethe"]["tags"]
    assert tags["customer.email"] == "contact.email:drop"
    assert tags["notes"].startswith("free_text:derive[")
    assert order["notes"].startswith("[free_text: ") and " chars; " in order["notes"]
    found = set(tags["notes"].partition("[")[2].strip("]").split(","))
    assert {"contact.phone", "contact.email", "transaction.payment", "identity.name"} <= found
    log_event = json.loads(run.on("logs.anonymized.v1")[0].value or b"{}")
    assert log_event["ip"].endswith(".0") or log_event["ip"].endswith("::")
    assert log_event["lethe"]["tags"]["geo.lat"] == "location.precise:generalize"


def test_worker_logs_carry_no_personal_value(run: Run) -> None:
    assert leaks(run.worker.log().encode(), run.traffic.secrets) == []
    assert leaks(run.worker.metrics_text().encode(), run.traffic.secrets) == []
