"""Fields an input's schema does not declare (issue 13 item 5): still dropped from every output,
but reported by path (a name, never a value), counted, and scanned for personal data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from processors.pipeline import TopicPipeline
from processors.policy import Policy
from processors.schemas import SchemaCatalog
from processors.unknown import OTHER, UNNAMED, Unknown, UnknownFields
from processors.validate import compile_validator

PLACE = {"type": "record", "name": "Place", "fields": [{"name": "city", "type": "string"}]}
SCHEMA = {"type": "record", "name": "Shipment", "namespace": "acme", "fields": [
    {"name": "id", "type": "string"},
    {"name": "from", "type": PLACE},
    {"name": "to", "type": ["null", "acme.Place"], "default": None},
    {"name": "stops", "type": {"type": "array", "items": "Place"}, "default": []},
    {"name": "tags", "type": {"type": "map", "values": "Place"}, "default": {}},
    {"name": "next", "type": ["null", "Shipment"], "default": None},   # recursive
]}


def base() -> dict[str, Any]:
    return {"id": "s1", "from": {"city": "Lyon"}}


@pytest.mark.parametrize(("record", "expected"), [
    (base(), []),
    ({**base(), "mobile": "+33 6 12 34 56 78"}, [("", "mobile")]),
    ({**base(), "from": {"city": "Lyon", "zip": "69001"}}, [("from", "zip")]),
    ({**base(), "to": {"city": "Nice", "door": 4}}, [("to", "door")]),            # the named type at another path
    ({**base(), "stops": [{"city": "A"}, {"city": "B", "x": 1}]}, [("stops[]", "x")]),
    ({**base(), "tags": {"k": {"city": "C", "y": 2}}}, [("tags{}", "y")]),
    ({**base(), "next": {**base(), "extra": True}}, [("next", "extra")]),        # recursive type
    ({**base(), "a": 1, "b": 2}, [("", "a"), ("", "b")]),
], ids=["none", "top", "nested", "named-elsewhere", "array", "map", "recursive", "two"])
def test_the_validator_reports_each_undeclared_field_with_its_path(record: dict[str, Any],
                                                                   expected: list[tuple[str, str]]) -> None:
    unknown: list[tuple[str, str, Any]] = []
    clean = compile_validator(SCHEMA, unknown=unknown)(record)
    assert [(path, name) for path, name, _ in unknown] == expected
    assert "mobile" not in clean and "extra" not in json.dumps(clean)   # still dropped


def test_without_a_list_the_validator_reports_nothing_and_still_drops() -> None:
    assert compile_validator(SCHEMA)({**base(), "mobile": "x"}) == {**base(), "to": None, "stops": [], "tags": {},
                                                                    "next": None}


@pytest.mark.parametrize(("at", "name", "path"), [
    ("", "mobile", "mobile"),
    ("customer", "loyalty_tier", "customer.loyalty_tier"),
    ("items[]", "gift-note", "items[].gift-note"),
    ("", "alice@example.com", UNNAMED),        # a key that is itself personal data
    ("", "+44 7700 900123", UNNAMED),
    ("", "has space", UNNAMED),
    ("", "x" * 65, UNNAMED),
], ids=["top", "nested", "dash", "email-key", "phone-key", "space", "too-long"])
def test_a_path_is_a_name_never_a_value(at: str, name: str, path: str) -> None:
    assert UnknownFields().path(at, name) == path


def test_paths_are_bounded_per_topic() -> None:
    fields = UnknownFields(limit=3)
    assert [fields.path("", f"f{n}") for n in range(5)] == ["f0", "f1", "f2", OTHER, OTHER]
    assert fields.path("", "f1") == "f1"   # a path already named keeps its name


@pytest.mark.parametrize(("value", "categories"), [
    ("web", set()),
    ("call me on +44 7700 900123", {"contact.phone"}),
    ({"primary": "alice@example.com"}, {"contact.email"}),
    ([{"ip": "203.0.113.9"}], {"network.ip"}),
    (4111111111111111, {"transaction.payment"}),    # a card number sent as a number
    (3, set()),
    (None, set()),
], ids=["plain", "phone", "nested-email", "list-ip", "int-card", "small-int", "null"])
def test_values_are_scanned_for_personal_data(value: Any, categories: set[str]) -> None:
    found = Unknown()
    UnknownFields().observe([("", "extra", value)], found)
    assert found.counts == {"extra": 1}
    assert found.personal.get("extra", set()) == categories


def test_a_field_in_many_places_of_one_record_counts_once() -> None:
    found = Unknown()
    UnknownFields().observe([("stops[]", "x", 1), ("stops[]", "x", 2)], found)
    assert found.counts == {"stops[].x": 1}


def test_the_pipeline_drops_counts_and_scans_unknown_fields(default_policy: Policy, catalog: SchemaCatalog,
                                                           example: Callable[[str], dict[str, Any]]) -> None:
    order = example("orders.v1")
    order["customer"]["mobile"] = "+44 7700 900123"
    order["channel"] = "web"
    pipe = TopicPipeline(catalog, default_policy, "orders.v1", b"k" * 32)
    plain = TopicPipeline(catalog, default_policy, "orders.v1", b"k" * 32)
    result = pipe.anonymize(pipe.decode([json.dumps(order).encode()]), {order["customer_id"]: b"s" * 32})
    assert result.unknown.counts == {"customer.mobile": 1, "channel": 1}
    assert result.unknown.personal == {"customer.mobile": {"contact.phone"}}
    assert all(b"7700" not in out.value and b"channel" not in out.value for out in result.outputs)
    # byte for byte what the same order without the unknown fields gives
    del order["customer"]["mobile"], order["channel"]
    same = plain.anonymize(plain.decode([json.dumps(order).encode()]), {order["customer_id"]: b"s" * 32})
    assert [o.value for o in result.outputs] == [o.value for o in same.outputs]
    assert not same.unknown.counts
