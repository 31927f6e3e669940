"""A new source with nothing but a schema file and a policy stanza (issue 11): end to end on a real worker.

The worker (on a fake clock, tests/clockworker.py) gets LETHE_SCHEMAS_DIR = a temporary directory
holding only tests/tickets.py's schema, and LETHE_POLICY = the default policy plus the tickets stanza.
Its tickets are anonymized on the derived output (JSON and Avro), held back by a consent refusal,
retained (a closed ticket's deadline fires a delete command for it) and erased (an erase request
sends the store agents a delete for the subject's tickets), like orders.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from support import FakeClock, Worker, unique_prefix, wait_for
from tickets import SCHEMA, SECRETS, STANZA, ticket

from processors.derive import derive_anonymized
from processors.time import parse_time
from streams.broker import EmbeddedBroker
from streams.client import Record, publish, read

pytestmark = pytest.mark.integration

OPENED = "2026-11-18T08:26:40Z"
START = parse_time(OPENED) + 60
DAY = 86_400.0


@pytest.fixture(params=["json", "avro"])
def stack(request: pytest.FixtureRequest, broker: EmbeddedBroker, tmp_path: Path,
          default_policy_path: Path) -> Iterator[tuple[Worker, FakeClock, str]]:
    schemas = tmp_path / "my-schemas"
    schemas.mkdir()
    (schemas / "tickets.v1.avsc").write_text(json.dumps(SCHEMA, indent=2))
    policy = tmp_path / "policy.toml"
    policy.write_text(default_policy_path.read_text() + STANZA)
    clock = FakeClock(tmp_path / "clock", START)
    worker = Worker(broker.bootstrap, unique_prefix("tickets"), tmp_path, clock, LETHE_POLICY=str(policy),
                    LETHE_SCHEMAS_DIR=str(schemas), LETHE_OUTPUT_ENCODING=request.param).start()
    try:
        yield worker, clock, request.param
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def default_policy_path() -> Path:
    from support import REPO

    return REPO / "deploy" / "policy.toml"


def values(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"{}") for r in records]


def test_a_new_source_is_anonymized_gated_retained_and_erased(broker: EmbeddedBroker,
                                                              stack: tuple[Worker, FakeClock, str]) -> None:
    worker, clock, encoding = stack
    prefix, bootstrap = worker.prefix, broker.bootstrap

    def send(topic: str, key: str, event: dict[str, Any]) -> None:
        publish(bootstrap, [(prefix + topic, key.encode(), json.dumps(event).encode())])

    # a subject who refused analytics: the tickets output requires it (consent = ["analytics"])
    send("consent.v1", "cust-9", {"event_id": "c-1", "occurred_at": OPENED, "customer_id": "cust-9",
                                  "purpose": "analytics", "granted": False, "policy_version": "2026-11-01",
                                  "source": "api"})
    wait_for(lambda: worker.metric("lethe_consent_decisions_total") == 1, 60, "the consent refusal")
    send("tickets.v1", "cust-9", ticket(ticket_id="T-9", reporter={"id": "cust-9", "name": "Ida Refuser",
                                                                   "contact": None}))
    send("tickets.v1", "cust-4711", ticket())
    send("tickets.v1", "cust-4711", ticket(status="closed"))
    send("tickets.v1", "cust-4711", {"ticket_id": "T-bad"})   # not the schema: dead-lettered

    out = list(read(bootstrap, [prefix + "tickets.anonymized.v1"], expect=2, timeout=90))
    assert len(out) == 2
    wait_for(lambda: worker.metric("lethe_records_gated_total", reason="consent_refused.analytics") == 1, 60,
             "the gated ticket")
    assert len(list(read(bootstrap, [prefix + "dlq.v1"], expect=1, timeout=60))) == 1
    if encoding == "avro":
        derived = fastavro.parse_schema(derive_anonymized(SCHEMA, "tickets.anonymized.v1"))
        records = [fastavro.schemaless_reader(io.BytesIO((r.value or b"")[10:]), derived, derived) for r in out]
    else:
        records = values(out)
    assert sorted(r["status"] for r in records) == ["closed", "opened"]
    assert {r["ticket_id"] for r in records} == {"T-1"}
    assert all(r["reporter"]["name"] is None and r["messages"][0]["author"] is None for r in records)
    assert all(r["messages"][0]["attachments"][0]["uploader_ip"] == "198.51.100.0" for r in records)
    raw = b"".join((r.value or b"") + (r.key or b"") for r in out).decode("utf-8", "replace")
    assert [s for s in (*SECRETS, "cust-4711", "cust-9", "Ida Refuser") if s in raw] == []

    # retained: the closed ticket's deadline (30 days) fires a delete for that one ticket
    wait_for(lambda: worker.metric("lethe_retention_timers_scheduled_total") >= 1, 60, "the ticket's deadline")
    clock.set(START + 29 * DAY)
    clock.set(START + 31 * DAY)
    wait_for(lambda: worker.metric("lethe_retention_timers_fired_total") == 1, 60, "the deadline to fire")
    [command] = values(list(read(bootstrap, [prefix + "lifecycle.commands.v1"], expect=1, timeout=60)))
    assert (command["action"], command["subject"], command["selector"]) == (
        "delete", "cust-4711", {"family": "tickets", "record_key": "T-1"})
    assert command["rule"] == "tickets-closed"

    # erased: an erase request reaches the tickets family like orders and logs
    send("privacy-requests.v1", "cust-4711", {"request_id": "req-t-1", "occurred_at": OPENED,
                                              "customer_id": "cust-4711", "type": "erase", "details": {},
                                              "channel": "api"})
    commands = values(list(read(bootstrap, [prefix + "lifecycle.commands.v1"], expect=4, timeout=60)))
    erase = {c["selector"]["family"]: c for c in commands if c["cause"] == "request"}
    assert set(erase) == {"orders", "logs", "tickets"}
    assert erase["tickets"]["action"] == "delete" and erase["tickets"]["selector"]["record_key"] is None
    assert erase["tickets"]["subject"] == "cust-4711"
