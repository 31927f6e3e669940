"""Decoder: JSON and Avro single-object input to validated records, or InvalidRecord without values."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from processors.decode import SINGLE_OBJECT_MAGIC, Decoder, Limits
from processors.errors import InvalidRecord
from processors.schemas import SchemaCatalog, TopicSchema

PERSONAL = "zofia.kowalczyk@leak.example"
PERSONAL_PARTS = (PERSONAL, "zofia", "kowalczyk", "leak.example")

Example = Callable[[str], dict[str, Any]]
SingleObject = Callable[[TopicSchema, dict[str, Any]], bytes]


@pytest.fixture(scope="module")
def decoder(catalog: SchemaCatalog) -> Decoder:
    return Decoder(catalog.for_topic("orders.v1"), catalog.by_fingerprint.get)


@pytest.fixture
def order(example: Example) -> dict[str, Any]:
    """A valid order that carries the distinctive personal value in several places."""
    record = example("orders.v1")
    record["customer"]["email"] = PERSONAL
    record["notes"] = f"please mail {PERSONAL}"
    return record


def dumps(record: Any) -> bytes:
    return json.dumps(record).encode()


def assert_no_personal_value(exc: InvalidRecord) -> None:
    for text in (str(exc), repr(exc), exc.reason, exc.path, exc.rule):
        for part in PERSONAL_PARTS:
            assert part not in text.lower()
    assert exc.__cause__ is None


# --- JSON -------------------------------------------------------------------------------------

def _truncated(order: dict[str, Any]) -> bytes:
    raw = dumps(order)
    return raw[: raw.index(PERSONAL.encode()) + 10]


def _with(**changes: Any) -> Callable[[dict[str, Any]], bytes]:
    def build(order: dict[str, Any]) -> bytes:
        return dumps({**order, **changes})
    return build


def _without(*names: str) -> Callable[[dict[str, Any]], bytes]:
    def build(order: dict[str, Any]) -> bytes:
        return dumps({k: v for k, v in order.items() if k not in names})
    return build


def _nested_customer(**changes: Any) -> Callable[[dict[str, Any]], bytes]:
    def build(order: dict[str, Any]) -> bytes:
        return dumps({**order, "customer": {**order["customer"], **changes}})
    return build


def _non_utf8(order: dict[str, Any]) -> bytes:
    return dumps(order).replace(PERSONAL.encode(), PERSONAL.encode() + b"\xff\xfe", 1)


def _latin1(order: dict[str, Any]) -> bytes:
    return json.dumps({**order, "notes": f"Zofia Kowalczyk, Łódź {PERSONAL}"}, ensure_ascii=False).encode("cp1250")


def _lone_surrogate(order: dict[str, Any]) -> bytes:
    return dumps(order).replace(b"please mail", b"\\ud800 please mail")


def _five_megabytes(order: dict[str, Any]) -> bytes:
    return dumps({**order, "notes": PERSONAL * (5_000_000 // len(PERSONAL))})


def _deep(order: dict[str, Any]) -> bytes:
    head = dumps(order)[:-1]
    return head + b', "x": ' + b"[" * 10_000 + dumps(PERSONAL) + b"]" * 10_000 + b"}"


def _deep_objects(order: dict[str, Any]) -> bytes:
    return b'{"a":' * 10_000 + dumps(PERSONAL) + b"}" * 10_000


def _long_string(order: dict[str, Any]) -> bytes:
    return dumps({**order, "notes": PERSONAL * (70_000 // len(PERSONAL))})


JSON_INVALID: list[tuple[str, Callable[[dict[str, Any]], bytes], str, str]] = [
    # id, input built from a valid order carrying PERSONAL, expected rule, expected path
    ("truncated", _truncated, "json", ""),
    ("trailing-garbage", lambda o: dumps(o) + b" " + PERSONAL.encode(), "json", ""),
    ("single-quotes", lambda o: dumps(o).replace(b'"', b"'"), "json", ""),
    ("nan-literal", lambda o: dumps(o).replace(b"39.9,", b"NaN,", 1), "json", ""),
    ("empty-bytes", lambda o: b"", "json", ""),
    ("whitespace-only", lambda o: b"   ", "json", ""),
    ("wrong-type-top", _with(total_amount=PERSONAL), "type", "total_amount"),
    ("wrong-type-nested", _nested_customer(name=["Zofia", "Kowalczyk"]), "type", "customer.name"),
    ("wrong-type-int-for-string", _with(customer_id=12345), "type", "customer_id"),
    ("bool-for-int", _with(items=[{"sku": "s", "name": PERSONAL, "quantity": True, "unit_price": 1.0}]),
     "type", "items[0].quantity"),
    ("missing-field", _without("order_id"), "required", "order_id"),
    ("missing-nested-field", _with(shipping_address={"city": PERSONAL, "postcode": "x", "country": "PL"}),
     "required", "shipping_address.street"),
    ("only-one-field", lambda o: dumps({"event_id": PERSONAL}), "required", "event_type"),
    ("unknown-enum", _with(event_type=PERSONAL), "enum", "event_type"),
    ("unknown-enum-2", _with(payment_status="teleported"), "enum", "payment_status"),
    ("timestamp-without-offset", _with(occurred_at="2026-11-20T14:03:22"), "format.timestamp", "occurred_at"),
    ("int-out-of-range", _with(items=[{"sku": "s", "name": "n", "quantity": 2**31, "unit_price": 1.0}]),
     "range", "items[0].quantity"),
    ("non-utf8", _non_utf8, "utf8", ""),
    ("other-charset", _latin1, "utf8", ""),
    ("lone-surrogate-escape", _lone_surrogate, "utf8", ""),
    ("five-megabyte-string", _five_megabytes, "max_size", ""),
    ("string-over-max-length", _long_string, "max_length", "notes"),
    ("nested-10000-arrays", _deep, "max_depth", ""),
    ("nested-10000-objects", _deep_objects, "max_depth", ""),
    ("not-an-object", lambda o: dumps([PERSONAL]), "type", ""),
    ("json-string", lambda o: dumps(PERSONAL), "type", ""),
    ("json-null", lambda o: b"null", "type", ""),
]


@pytest.mark.parametrize(("build", "rule", "path"), [c[1:] for c in JSON_INVALID], ids=[c[0] for c in JSON_INVALID])
def test_json_invalid(decoder: Decoder, order: dict[str, Any], build: Callable[[dict[str, Any]], bytes], rule: str,
                      path: str) -> None:
    raw = build(order)
    with pytest.raises(InvalidRecord) as caught:
        decoder.decode(raw)
    assert (caught.value.rule, caught.value.path) == (rule, path)
    assert_no_personal_value(caught.value)


def test_none_is_a_tombstone(decoder: Decoder) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoder.decode(None)
    assert (caught.value.rule, caught.value.path) == ("empty", "")
    assert decoder.encoding_of(None) == "none"


def test_json_valid(decoder: Decoder, order: dict[str, Any]) -> None:
    order["not_in_schema"] = PERSONAL
    record = decoder.decode(dumps(order))
    assert "not_in_schema" not in record
    del order["not_in_schema"]
    assert record == order
    assert decoder.encoding_of(dumps(order)) == "json"


def test_json_nested_within_limit_is_accepted_and_dropped(decoder: Decoder, order: dict[str, Any]) -> None:
    raw = dumps(order)[:-1] + b', "x": ' + b"[" * 500 + b"]" * 500 + b"}"
    assert "x" not in decoder.decode(raw)


@pytest.mark.parametrize(("limits", "build", "rule"), [
    (Limits(max_record_bytes=100), dumps, "max_size"),
    (Limits(max_string=10), dumps, "max_length"),
], ids=["max-record-bytes", "max-string"])
def test_limits_are_configurable(catalog: SchemaCatalog, order: dict[str, Any], limits: Limits,
                                 build: Callable[[Any], bytes], rule: str) -> None:
    decoder = Decoder(catalog.for_topic("orders.v1"), catalog.by_fingerprint.get, limits)
    with pytest.raises(InvalidRecord) as caught:
        decoder.decode(build(order))
    assert caught.value.rule == rule
    assert_no_personal_value(caught.value)


# --- Avro single-object encoding ----------------------------------------------------------------

def test_avro_round_trip(decoder: Decoder, catalog: SchemaCatalog, order: dict[str, Any],
                         single_object: SingleObject) -> None:
    raw = single_object(catalog.for_topic("orders.v1"), order)
    assert raw[:2] == b"\xc3\x01"
    assert raw[2:10] == catalog.for_topic("orders.v1").fingerprint
    assert decoder.encoding_of(raw) == "avro"
    assert decoder.decode(raw) == order


def test_avro_and_json_decode_alike(decoder: Decoder, catalog: SchemaCatalog, example: Example,
                                    single_object: SingleObject) -> None:
    order = example("orders.v1")
    order["shipping_address"] = None
    order["customer"] = {"name": None, "email": None, "phone": None}
    assert decoder.decode(single_object(catalog.for_topic("orders.v1"), order)) == decoder.decode(dumps(order))


def _avro(catalog: SchemaCatalog, order: dict[str, Any], single_object: SingleObject) -> bytes:
    return single_object(catalog.for_topic("orders.v1"), order)


def _avro_truncated_body(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    return _avro(catalog, order, so)[:-3]


def _avro_cut_in_personal(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    raw = _avro(catalog, order, so)
    return raw[: raw.index(PERSONAL.encode()) + 5]


def _avro_header_only(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    return _avro(catalog, order, so)[:10]


def _avro_truncated_header(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    return _avro(catalog, order, so)[:7]


def _avro_unknown_fingerprint(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    raw = _avro(catalog, order, so)
    return SINGLE_OBJECT_MAGIC + bytes(8) + raw[10:]


def _avro_trailing_bytes(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    return _avro(catalog, order, so) + PERSONAL.encode()


def _avro_other_topic(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    log: dict[str, Any] = json.loads((catalog.directory / "examples" / "logs.v1.json").read_text())
    log["url"] = f"https://shop.example.com/?email={PERSONAL}"
    return so(catalog.for_topic("logs.v1"), log)


def _avro_output_topic(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    anonymized = {**order, "lethe": {"policy": "p", "tags": {}}}
    return so(catalog.for_topic("orders.anonymized.v1"), anonymized)


def _avro_non_utf8_string(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    return _avro(catalog, order, so).replace(b"zofia", b"\xff\xfeofia", 1)


def _avro_bad_timestamp(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    return _avro(catalog, {**order, "occurred_at": "2026-11-20T14:03:22"}, so)


def _avro_bad_enum_index(catalog: SchemaCatalog, order: dict[str, Any], so: SingleObject) -> bytes:
    raw = _avro(catalog, order, so)
    # event_id is the first field (a length-prefixed string), event_type the enum index after it
    length = len(order["event_id"])
    index_at = 10 + 1 + length
    return raw[:index_at] + b"\x7e" + raw[index_at + 1:]


AVRO_INVALID: list[tuple[str, Callable[[SchemaCatalog, dict[str, Any], SingleObject], bytes], str, str]] = [
    ("truncated-body", _avro_truncated_body, "avro", ""),
    ("truncated-inside-personal-value", _avro_cut_in_personal, "avro", ""),
    ("header-only", _avro_header_only, "avro", ""),
    ("truncated-header", _avro_truncated_header, "avro", ""),
    ("unknown-fingerprint", _avro_unknown_fingerprint, "unknown_fingerprint", ""),
    ("trailing-bytes", _avro_trailing_bytes, "avro", ""),
    ("other-topic-schema", _avro_other_topic, "wrong_schema", ""),
    ("output-topic-schema", _avro_output_topic, "wrong_schema", ""),
    ("non-utf8-string", _avro_non_utf8_string, "avro", ""),
    ("enum-index-out-of-range", _avro_bad_enum_index, "avro", ""),
    ("valid-avro-invalid-record", _avro_bad_timestamp, "format.timestamp", "occurred_at"),
]


@pytest.mark.parametrize(("build", "rule", "path"), [c[1:] for c in AVRO_INVALID], ids=[c[0] for c in AVRO_INVALID])
def test_avro_invalid(decoder: Decoder, catalog: SchemaCatalog, order: dict[str, Any], single_object: SingleObject,
                      build: Callable[[SchemaCatalog, dict[str, Any], SingleObject], bytes], rule: str,
                      path: str) -> None:
    raw = build(catalog, order, single_object)
    with pytest.raises(InvalidRecord) as caught:
        decoder.decode(raw)
    assert (caught.value.rule, caught.value.path) == (rule, path)
    assert_no_personal_value(caught.value)


def test_every_truncation_of_an_avro_body_is_rejected(decoder: Decoder, catalog: SchemaCatalog,
                                                      order: dict[str, Any], single_object: SingleObject) -> None:
    raw = single_object(catalog.for_topic("orders.v1"), order)
    for end in range(len(raw) - 1, 9, -1):
        with pytest.raises(InvalidRecord) as caught:
            decoder.decode(raw[:end])
        assert caught.value.rule == "avro", end


def test_wrong_schema_names_the_writer_topic(decoder: Decoder, catalog: SchemaCatalog, example: Example,
                                             single_object: SingleObject) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoder.decode(single_object(catalog.for_topic("logs.v1"), example("logs.v1")))
    assert "logs.v1" in caught.value.reason


# --- writer schemas from schemas/history: resolution to the current schema ---------------------

V1 = {"type": "record", "name": "Thing", "namespace": "t", "version": 1,
      "fields": [{"name": "id", "type": "string"}, {"name": "colour", "type": "string"}]}
V2 = {"type": "record", "name": "Thing", "namespace": "t", "version": 2,
      "fields": [{"name": "id", "type": "string"},
                 {"name": "size", "type": "int", "default": 3},
                 {"name": "colour", "type": "string"}]}


@pytest.fixture
def evolved(tmp_path: Path) -> SchemaCatalog:
    (tmp_path / "history" / "things.v1").mkdir(parents=True)
    (tmp_path / "history" / "things.v1" / "v1.avsc").write_text(json.dumps(V1))
    (tmp_path / "history" / "things.v1" / "v2.avsc").write_text(json.dumps(V2))
    (tmp_path / "things.v1.avsc").write_text(json.dumps(V2))
    return SchemaCatalog.load(tmp_path)


def test_avro_written_with_a_released_version_is_resolved(evolved: SchemaCatalog,
                                                          single_object: SingleObject) -> None:
    current = evolved.for_topic("things.v1")
    old = next(s for s in evolved.by_fingerprint.values() if s.version == 1)
    assert old.fingerprint != current.fingerprint
    decoder = Decoder(current, evolved.by_fingerprint.get)
    assert decoder.decode(single_object(old, {"id": "a", "colour": "red"})) == {"id": "a", "size": 3,
                                                                                "colour": "red"}
    assert decoder.decode(single_object(current, {"id": "b", "size": 9, "colour": "blue"})) == {
        "id": "b", "size": 9, "colour": "blue"}
