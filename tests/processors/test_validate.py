"""compile_validator: a clean copy of valid input, or InvalidRecord naming the path and the rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from processors.errors import InvalidRecord, SchemaError
from processors.validate import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, compile_validator

PERSONAL = "zofia.kowalczyk@leak.example"


def one_field(avro_type: Any, **attributes: Any) -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": [{"name": "v", "type": avro_type, **attributes}]}


def check(avro_type: Any, value: Any, **attributes: Any) -> Any:
    return compile_validator(one_field(avro_type, **attributes))({"v": value})["v"]


ENUM = {"type": "enum", "name": "Colour", "symbols": ["red", "green"]}
FIXED = {"type": "fixed", "name": "Two", "size": 2}

VALID: list[tuple[str, Any, Any, Any, dict[str, Any]]] = [
    # id, avro type, input, expected output, field attributes
    ("null", "null", None, None, {}),
    ("boolean-true", "boolean", True, True, {}),
    ("boolean-false", "boolean", False, False, {}),
    ("int", "int", 42, 42, {}),
    ("int-min", "int", INT_MIN, INT_MIN, {}),
    ("int-max", "int", INT_MAX, INT_MAX, {}),
    ("long-min", "long", LONG_MIN, LONG_MIN, {}),
    ("long-max", "long", LONG_MAX, LONG_MAX, {}),
    ("double", "double", 1.5, 1.5, {}),
    ("double-from-int", "double", 3, 3.0, {}),
    ("float", "float", -0.25, -0.25, {}),
    ("string", "string", "hello", "hello", {}),
    ("string-empty", "string", "", "", {}),
    ("bytes", "bytes", b"\x00\xff", b"\x00\xff", {}),
    ("bytes-from-latin1-str", "bytes", "\u00ff", b"\xff", {}),
    ("enum", ENUM, "green", "green", {}),
    ("fixed", FIXED, b"ab", b"ab", {}),
    ("optional-null", ["null", "string"], None, None, {}),
    ("optional-value", ["null", "string"], "x", "x", {}),
    ("union-first-branch", ["int", "string"], 7, 7, {}),
    ("union-second-branch", ["int", "string"], "7", "7", {}),
    ("array", {"type": "array", "items": "int"}, [1, 2], [1, 2], {}),
    ("array-empty", {"type": "array", "items": "int"}, [], [], {}),
    ("map", {"type": "map", "values": "string"}, {"a": "b"}, {"a": "b"}, {}),
    ("timestamp-z", "string", "2026-11-20T14:03:22Z", "2026-11-20T14:03:22Z", {"format": "timestamp"}),
    ("timestamp-offset", "string", "2026-11-20T14:03:22.512+02:00", "2026-11-20T14:03:22.512+02:00",
     {"format": "timestamp"}),
    ("timestamp-in-optional", ["null", "string"], "2026-11-20T14:03:22Z", "2026-11-20T14:03:22Z",
     {"format": "timestamp"}),
    ("type-object-with-format", {"type": "string"}, "2026-11-20T14:03:22Z", "2026-11-20T14:03:22Z",
     {"format": "timestamp"}),
]

INVALID: list[tuple[str, Any, Any, str, dict[str, Any]]] = [
    # id, avro type, input, expected rule, field attributes
    ("null-given-string", "null", "x", "type", {}),
    ("boolean-given-int", "boolean", 1, "type", {}),
    ("boolean-given-string", "boolean", "true", "type", {}),
    ("int-given-bool", "int", True, "type", {}),
    ("long-given-bool", "long", False, "type", {}),
    ("int-given-float", "int", 1.0, "type", {}),
    ("int-given-string", "int", "1", "type", {}),
    ("int-above-range", "int", INT_MAX + 1, "range", {}),
    ("int-below-range", "int", INT_MIN - 1, "range", {}),
    ("long-above-range", "long", LONG_MAX + 1, "range", {}),
    ("long-below-range", "long", LONG_MIN - 1, "range", {}),
    ("double-given-bool", "double", True, "type", {}),
    ("double-given-string", "double", "1.5", "type", {}),
    ("double-nan", "double", float("nan"), "range", {}),
    ("double-inf", "double", float("inf"), "range", {}),
    ("double-minus-inf", "double", float("-inf"), "range", {}),
    ("float-nan", "float", float("nan"), "range", {}),
    ("string-given-int", "string", 5, "type", {}),
    ("string-given-none", "string", None, "type", {}),
    ("bytes-given-int", "bytes", 5, "type", {}),
    ("enum-unknown-symbol", ENUM, "blue", "enum", {}),
    ("enum-given-int", ENUM, 0, "type", {}),
    ("fixed-wrong-size", FIXED, b"abc", "type", {}),
    ("fixed-given-str", FIXED, "ab", "type", {}),
    ("union-no-branch", ["int", "string"], 1.5, "type", {}),
    ("array-given-object", {"type": "array", "items": "int"}, {"0": 1}, "type", {}),
    ("array-given-string", {"type": "array", "items": "string"}, "abc", "type", {}),
    ("map-given-array", {"type": "map", "values": "string"}, ["a"], "type", {}),
    ("timestamp-no-offset", "string", "2026-11-20T14:03:22", "format.timestamp", {"format": "timestamp"}),
    ("timestamp-date-only", "string", "2026-11-20", "format.timestamp", {"format": "timestamp"}),
    ("timestamp-garbage", "string", "next tuesday", "format.timestamp", {"format": "timestamp"}),
    ("timestamp-too-long", "string", "2026-11-20T14:03:22" + "0" * 60 + "Z", "format.timestamp",
     {"format": "timestamp"}),
    ("timestamp-given-int", "string", 1732111402, "type", {"format": "timestamp"}),
    ("timestamp-no-offset-optional", ["null", "string"], "2026-11-20T14:03:22", "format.timestamp",
     {"format": "timestamp"}),
]


@pytest.mark.parametrize(("avro_type", "value", "expected", "attributes"),
                         [case[1:] for case in VALID], ids=[case[0] for case in VALID])
def test_accepts(avro_type: Any, value: Any, expected: Any, attributes: dict[str, Any]) -> None:
    result = check(avro_type, value, **attributes)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("avro_type", "value", "rule", "attributes"),
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_rejects(avro_type: Any, value: Any, rule: str, attributes: dict[str, Any]) -> None:
    with pytest.raises(InvalidRecord) as caught:
        check(avro_type, value, **attributes)
    assert caught.value.rule == rule
    assert caught.value.path == "v"


def test_max_string_is_configurable() -> None:
    validate = compile_validator(one_field("string"), max_string=5)
    assert validate({"v": "abcde"}) == {"v": "abcde"}
    with pytest.raises(InvalidRecord) as caught:
        validate({"v": "abcdef"})
    assert (caught.value.rule, caught.value.path) == ("max_length", "v")


def test_bytes_given_non_latin1_string_is_an_invalid_record() -> None:
    # regression: str.encode("latin-1") used to escape as a UnicodeEncodeError quoting the character
    with pytest.raises(InvalidRecord) as caught:
        check("bytes", "zofia€")
    assert (caught.value.rule, caught.value.path) == ("type", "v")
    assert "zofia" not in str(caught.value)
    assert "€" not in str(caught.value)


# --- records against the real orders.v1 schema ---------------------------------------------------

Mutate = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutate:
    def mutate(record: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = record
        for segment in parents:
            target = target[int(segment)] if segment.isdigit() else target[segment]
        target[last] = value
    return mutate


def _delete(path: str) -> Mutate:
    def mutate(record: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = record
        for segment in parents:
            target = target[segment]
        del target[last]
    return mutate


ORDER_ERRORS: list[tuple[str, Mutate, str, str]] = [
    # id, change to a valid order, expected path, expected rule
    ("nested-array-record", _set("items.0.quantity", PERSONAL), "items[0].quantity", "type"),
    ("nested-array-record-range", _set("items.0.quantity", 2**40), "items[0].quantity", "range"),
    ("optional-record-field", _set("shipping_address.city", 12), "shipping_address.city", "type"),
    ("optional-record-required", _delete("shipping_address.street"), "shipping_address.street", "required"),
    ("record-optional-field-type", _set("customer.email", 7), "customer.email", "type"),
    ("record-given-null", _set("customer", None), "customer", "type"),
    ("record-given-string", _set("customer", PERSONAL), "customer", "type"),
    ("top-level-required", _delete("customer_id"), "customer_id", "required"),
    ("top-level-type", _set("customer_id", 8841), "customer_id", "type"),
    ("enum", _set("event_type", PERSONAL), "event_type", "enum"),
    ("enum-in-field-with-category", _set("payment_status", "stolen"), "payment_status", "enum"),
    ("timestamp", _set("occurred_at", "2026-11-20 14:03"), "occurred_at", "format.timestamp"),
    ("double-nan", _set("total_amount", float("nan")), "total_amount", "range"),
    ("double-bool", _set("total_amount", True), "total_amount", "type"),
    ("array-of-strings", _set("items", [PERSONAL]), "items[0]", "type"),
]


@pytest.fixture(scope="module")
def validate_order(catalog: Any) -> Callable[[Any], Any]:
    return compile_validator(catalog.for_topic("orders.v1").raw)


@pytest.mark.parametrize(("mutate", "path", "rule"), [c[1:] for c in ORDER_ERRORS], ids=[c[0] for c in ORDER_ERRORS])
def test_error_names_field_path_and_rule_but_no_value(
    validate_order: Callable[[Any], Any], example: Callable[[str], dict[str, Any]], mutate: Mutate, path: str,
    rule: str,
) -> None:
    order = example("orders.v1")
    order["customer"]["email"] = PERSONAL
    mutate(order)
    with pytest.raises(InvalidRecord) as caught:
        validate_order(order)
    exc = caught.value
    assert (exc.path, exc.rule) == (path, rule)
    assert str(exc) == f"{path}: {exc.reason} (rule {rule})"
    for text in (str(exc), exc.reason, exc.path):
        assert PERSONAL not in text
        assert "zofia" not in text


def test_valid_example_round_trips(validate_order: Callable[[Any], Any], example: Callable[[str], Any]) -> None:
    order = example("orders.v1")
    assert validate_order(order) == order


def test_unknown_fields_are_dropped_at_every_level(
    validate_order: Callable[[Any], Any], example: Callable[[str], Any]
) -> None:
    order = example("orders.v1")
    order["secret_ssn"] = "078-05-1120"
    order["customer"]["loyalty_tier"] = "gold"
    order["shipping_address"]["gate_code"] = "4321"
    order["items"][0]["gift_message"] = "Love, Zofia"
    clean = validate_order(order)
    assert "secret_ssn" not in clean
    assert "loyalty_tier" not in clean["customer"]
    assert "gate_code" not in clean["shipping_address"]
    assert "gift_message" not in clean["items"][0]
    for leaked in ("078-05-1120", "1990-01-01", "4321", "Zofia"):
        assert leaked not in repr(clean)


def test_defaults_are_filled(validate_order: Callable[[Any], Any], example: Callable[[str], Any]) -> None:
    order = example("orders.v1")
    for optional in ("shipping_address", "items", "carrier", "tracking_number", "notes"):
        del order[optional]
    order["customer"] = {}
    clean = validate_order(order)
    assert clean["shipping_address"] is None
    assert clean["items"] == []
    assert (clean["carrier"], clean["tracking_number"], clean["notes"]) == (None, None, None)
    assert clean["customer"] == {"name": None, "email": None, "phone": None, "date_of_birth": None}


def test_mutable_defaults_are_not_shared(validate_order: Callable[[Any], Any], example: Callable[[str], Any]) -> None:
    order = example("orders.v1")
    del order["items"]
    first = validate_order(copy.deepcopy(order))
    first["items"].append({"sku": "x"})
    assert validate_order(copy.deepcopy(order))["items"] == []


def test_returns_a_copy_and_leaves_the_input_alone(
    validate_order: Callable[[Any], Any], example: Callable[[str], Any]
) -> None:
    order = example("orders.v1")
    order["extra"] = 1
    before = copy.deepcopy(order)
    clean = validate_order(order)
    assert order == before
    clean["customer"]["name"] = "changed"
    assert order["customer"]["name"] == before["customer"]["name"]


def test_record_must_be_an_object(validate_order: Callable[[Any], Any]) -> None:
    with pytest.raises(InvalidRecord) as caught:
        validate_order([1, 2])
    assert (caught.value.rule, caught.value.path) == ("type", "")
    assert str(caught.value).startswith("<record>: ")


def test_map_errors_name_the_map_not_the_key() -> None:
    validate = compile_validator(one_field({"type": "map", "values": "int"}))
    with pytest.raises(InvalidRecord) as caught:
        validate({"v": {PERSONAL: "not an int"}})
    assert caught.value.path == "v[*]"
    assert PERSONAL not in str(caught.value)


def test_map_keys_must_be_strings() -> None:
    validate = compile_validator(one_field({"type": "map", "values": "int"}))
    with pytest.raises(InvalidRecord) as caught:
        validate({"v": {1: 1}})
    assert caught.value.rule == "type"


def test_nested_arrays_build_index_paths() -> None:
    schema = one_field({"type": "array", "items": {"type": "array", "items": "int"}})
    with pytest.raises(InvalidRecord) as caught:
        compile_validator(schema)({"v": [[1], [2, "x"]]})
    assert caught.value.path == "v[1][1]"


def test_named_types_resolve_by_name_and_recursively() -> None:
    schema = {
        "type": "record", "name": "Node", "namespace": "t",
        "fields": [
            {"name": "colour", "type": ENUM},
            {"name": "other", "type": "Colour"},
            {"name": "next", "type": ["null", "t.Node"], "default": None},
        ],
    }
    validate = compile_validator(schema)
    chain = {"colour": "red", "other": "green", "next": {"colour": "green", "other": "red"}}
    assert validate(chain) == {"colour": "red", "other": "green",
                               "next": {"colour": "green", "other": "red", "next": None}}
    with pytest.raises(InvalidRecord) as caught:
        validate({"colour": "red", "other": "red", "next": {"colour": "mauve", "other": "red"}})
    assert (caught.value.path, caught.value.rule) == ("next.colour", "enum")


@pytest.mark.parametrize("schema", [
    one_field("no.such.Type"),
    one_field(42),
], ids=["unknown-type-name", "not-a-schema-node"])
def test_bad_schema_raises_schema_error(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        compile_validator(schema)


def test_invalid_record_at_builds_paths() -> None:
    exc = InvalidRecord("type", "expected a string")
    assert exc.at("[3]").at("items").path == "items[3]"
    exc = InvalidRecord("type", "expected a string", "city")
    assert exc.at("shipping_address").path == "shipping_address.city"
    assert str(exc) == "shipping_address.city: expected a string (rule type)"
