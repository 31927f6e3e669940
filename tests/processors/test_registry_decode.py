"""Confluent wire-format input (issue 13 item 4): the writer schema comes from a registry by id,
the body is read with it and resolved to the topic's schema by the same validator as JSON."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from typing import Any

import fastavro
import pytest

from processors.decode import Decoder
from processors.errors import InvalidRecord, RegistryUnavailable
from processors.schemas import SchemaCatalog

Example = Callable[[str], dict[str, Any]]


def framed(schema_id: int, writer: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + buffer.getvalue()


@pytest.fixture
def orders_schema(catalog: SchemaCatalog) -> dict[str, Any]:
    return copy.deepcopy(catalog.for_topic("orders.v1").raw)


def registry_of(schemas: dict[int, dict[str, Any]]) -> Callable[[int], Any]:
    parsed = {schema_id: fastavro.parse_schema(copy.deepcopy(s)) for schema_id, s in schemas.items()}
    return parsed.get


def decoder(catalog: SchemaCatalog, registry: Callable[[int], Any] | None) -> Decoder:
    return Decoder(catalog.for_topic("orders.v1"), catalog.by_fingerprint.get, registry=registry)


def test_a_record_written_with_the_topics_own_schema_decodes_like_json(
        catalog: SchemaCatalog, orders_schema: dict[str, Any], example: Example) -> None:
    order = example("orders.v1")
    from_json = decoder(catalog, None).decode(json.dumps(order).encode())
    assert decoder(catalog, registry_of({7: orders_schema})).decode(framed(7, orders_schema, from_json)) == from_json


def test_another_namespace_an_extra_field_and_a_missing_optional_field_resolve(
        catalog: SchemaCatalog, orders_schema: dict[str, Any], example: Example) -> None:
    order = decoder(catalog, None).decode(json.dumps(example("orders.v1")).encode())
    writer = copy.deepcopy(orders_schema)
    writer["namespace"] = "com.shop.checkout"          # the upstream team's own names
    writer["name"] = "CheckoutEvent"
    writer["fields"] = [f for f in writer["fields"] if f["name"] != "notes"]   # optional in Lethe's schema
    writer["fields"].append({"name": "channel", "type": "string"})             # not in Lethe's schema yet
    sent = {k: v for k, v in order.items() if k != "notes"} | {"channel": "web"}
    d = decoder(catalog, registry_of({42: writer}))
    got = d.decode(framed(42, writer, sent))
    assert got["notes"] is None and "channel" not in got
    assert got["order_id"] == order["order_id"] and got["customer"] == order["customer"]
    assert [(path, name) for path, name, _ in d.unknown] == [("", "channel")]   # seen, not silently dropped


@pytest.mark.parametrize(("change", "path"), [
    (lambda w: w.__setitem__("fields", [f for f in w["fields"] if f["name"] != "order_id"]), "order_id"),
    (lambda w: next(f for f in w["fields"] if f["name"] == "order_id").__setitem__("type", "long"), "order_id"),
], ids=["required-field-missing", "string-became-long"])
def test_a_writer_schema_that_does_not_resolve_is_dead_lettered_with_a_reason(
        catalog: SchemaCatalog, orders_schema: dict[str, Any], example: Example,
        change: Callable[[dict[str, Any]], None], path: str) -> None:
    order = decoder(catalog, None).decode(json.dumps(example("orders.v1")).encode())
    writer = copy.deepcopy(orders_schema)
    change(writer)
    names = {f["name"] for f in writer["fields"]}
    sent = {k: (123 if k == "order_id" else v) for k, v in order.items() if k in names}
    with pytest.raises(InvalidRecord) as caught:
        decoder(catalog, registry_of({9: writer})).decode(framed(9, writer, sent))
    assert caught.value.rule == "registry_incompatible" and caught.value.path == path
    assert "writer schema 9" in caught.value.reason and str(order["order_id"]) not in str(caught.value)


@pytest.mark.parametrize(("raw", "registry", "rule"), [
    (b"\x00\x00\x00\x00\x05\x02", None, "registry_unconfigured"),
    (b"\x00\x00\x00\x00\x05\x02", {}, "registry_unknown_id"),
    (b"\x00\x00\x01", {}, "avro"),
], ids=["no-registry", "unknown-id", "truncated-header"])
def test_wire_format_errors_name_their_rule(catalog: SchemaCatalog, raw: bytes, registry: dict[int, Any] | None,
                                            rule: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoder(catalog, registry_of(registry) if registry is not None else None).decode(raw)
    assert caught.value.rule == rule


def test_trailing_bytes_are_rejected(catalog: SchemaCatalog, orders_schema: dict[str, Any], example: Example) -> None:
    order = decoder(catalog, None).decode(json.dumps(example("orders.v1")).encode())
    with pytest.raises(InvalidRecord) as caught:
        decoder(catalog, registry_of({3: orders_schema})).decode(framed(3, orders_schema, order) + b"\x00")
    assert caught.value.rule == "avro"


def test_an_unavailable_registry_is_not_a_bad_record(catalog: SchemaCatalog) -> None:
    def down(schema_id: int) -> Any:
        raise RegistryUnavailable("the schema registry is unreachable (ConnectError)")
    with pytest.raises(RegistryUnavailable):   # not InvalidRecord: nothing is dead-lettered for it
        decoder(catalog, down).decode(b"\x00\x00\x00\x00\x05\x02")
