"""Schema-registry input (issue 13 item 4): the registry lookup with the client library's in-memory
registry (``mock://``), and a worker reading Confluent wire-format orders through a registry over
HTTP that goes away and comes back: the records wait, none is lost or dead-lettered for it."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from registry_stub import RegistryStub
from support import REPO, Worker, unique_prefix, wait_for

from processors.errors import InvalidRecord, RegistryUnavailable
from streams.broker import EmbeddedBroker
from streams.client import publish, read
from streams.registry import SchemaRegistry

ORDERS = json.loads((REPO / "schemas" / "orders.v1.avsc").read_text())


def framed(schema_id: int, writer: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(copy.deepcopy(writer)), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + buffer.getvalue()


class Counting:
    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, 0

    def get_schema(self, schema_id: int) -> Any:
        self.calls += 1
        return self.client.get_schema(schema_id)


def test_lookups_through_the_in_memory_registry_are_cached_and_classified() -> None:
    client = SchemaRegistryClient.new_client({"url": "mock://lethe-test"})
    avro_id = client.register_schema("orders.v1-value", Schema(json.dumps(ORDERS), "AVRO"))
    json_id = client.register_schema("other-value", Schema(json.dumps({"type": "object"}), "JSON"))
    counting = Counting(client)
    registry = SchemaRegistry("mock://lethe-test", client=counting)
    assert registry(avro_id)["name"] == "lethe.orders.v1.OrderEvent" and registry(avro_id) is registry(avro_id)
    assert counting.calls == 1                       # an id never changes its schema: fetched once
    assert registry(999) is None                     # unknown id: the record is dead-lettered
    with pytest.raises(InvalidRecord) as caught:
        registry(json_id)
    assert caught.value.rule == "registry_not_avro"


def test_an_unreachable_registry_raises_unavailable() -> None:
    with pytest.raises(RegistryUnavailable) as caught:
        SchemaRegistry(RegistryStub().url.replace(":0", ":1"))(1)
    assert "unreachable" in str(caught.value)


@pytest.mark.integration
def test_a_worker_reads_confluent_wire_format_and_waits_out_a_registry_outage(broker: EmbeddedBroker,
                                                                               tmp_path: Path) -> None:
    stub = RegistryStub().start()
    writer = copy.deepcopy(ORDERS)
    writer["namespace"], writer["name"] = "com.shop.checkout", "CheckoutEvent"
    stub.schemas[21] = writer
    incompatible = copy.deepcopy(ORDERS)
    incompatible["fields"] = [f for f in incompatible["fields"] if f["name"] != "order_id"]
    stub.schemas[22] = incompatible
    example = json.loads((REPO / "schemas" / "examples" / "orders.v1.json").read_text())
    worker = Worker(broker.bootstrap, unique_prefix("registry"), tmp_path,
                    LETHE_SCHEMA_REGISTRY_URL=stub.url).start()
    prefix = worker.prefix

    def order(n: int) -> dict[str, Any]:
        return {**example, "event_id": f"evt-sr-{n}", "order_id": f"ORD-SR-{n}", "customer_id": f"cust-sr-{n}"}

    def send(values: list[tuple[int, bytes]]) -> None:
        publish(broker.bootstrap, [(prefix + "orders.v1", f"cust-sr-{n}".encode(), v) for n, v in values])

    try:
        send([(1, framed(21, writer, order(1))), (2, framed(77, writer, order(2))),
              (3, framed(22, incompatible, {k: v for k, v in order(3).items() if k != "order_id"}))])
        [out] = list(read(broker.bootstrap, [prefix + "orders.anonymized.v1"], expect=1, timeout=90))
        assert json.loads(out.value or b"{}")["order_id"]   # decoded and anonymized like JSON input
        dead = list(read(broker.bootstrap, [prefix + "dlq.v1"], expect=2, timeout=60))
        rules = sorted(dict(d.headers)["rule"].decode() for d in dead)
        assert rules == ["registry_incompatible", "registry_unknown_id"]

        port = stub.port
        stub.stop()                                   # the registry goes away
        stub.schemas[23] = writer                     # a new id the worker has not cached
        send([(4, framed(23, writer, order(4)))])
        wait_for(lambda: worker.metric("lethe_schema_registry_unavailable_total", topic=prefix + "orders.v1") >= 1,
                 60, "the batch waiting for the registry")
        schemas, stub = stub.schemas, RegistryStub(port)
        stub.schemas.update(schemas)
        stub.start()                                  # and comes back on the same address
        outs = list(read(broker.bootstrap, [prefix + "orders.anonymized.v1"], expect=2, timeout=90))
        assert len(outs) == 2
        assert len(list(read(broker.bootstrap, [prefix + "dlq.v1"], timeout=5, idle=1.5))) == 2   # nothing more
    finally:
        stub.stop()
        assert worker.stop() == 0, worker.log()[-3000:]
