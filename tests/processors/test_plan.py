"""compile_plan and Plan.apply: which fields are personal, which strategy each gets, what comes out."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from processors.errors import PolicyError
from processors.plan import Plan, compile_plan, get_path, personal_fields
from processors.policy import CATEGORIES, Policy, parse_policy
from processors.pseudonym import pseudonym
from processors.schemas import SchemaCatalog

KEY = bytes(range(32))
ORDERS_OUT = "orders.anonymized.v1"
LOGS_OUT = "logs.anonymized.v1"
OUTPUT_OF = {"orders.v1": ORDERS_OUT, "logs.v1": LOGS_OUT}

Example = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="module")
def base(default_policy_path: Path) -> dict[str, Any]:
    return tomllib.loads(default_policy_path.read_text(encoding="utf-8"))


def plan_for(catalog: SchemaCatalog, policy: Policy, source: str) -> Plan:
    return compile_plan(catalog.for_topic(source).raw, policy.outputs[OUTPUT_OF[source]], policy)


def variant(base: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> Policy:
    data = copy.deepcopy(base)
    edit(data)
    return parse_policy(data, "variant.toml")


# --- personal fields ----------------------------------------------------------------------------

ORDER_FIELDS = [
    ("order_id", "string", "transaction.order", "identifier", False),
    ("customer_id", "string", "identifier.customer", "subject", False),
    ("customer.name", "string", "identity.name", None, False),
    ("customer.email", "string", "contact.email", None, False),
    ("customer.phone", "string", "contact.phone", None, False),
    ("customer.date_of_birth", "string", "identity.dob", "date", False),
    ("shipping_address.street", "string", "contact.address", None, False),
    ("shipping_address.city", "string", "contact.address", None, False),
    ("shipping_address.postcode", "string", "contact.address", "postcode", False),
    ("shipping_address.region", "string", "contact.address", None, False),
    ("total_amount", "double", "transaction.order", None, False),
    ("payment_status", "enum", "transaction.payment", None, False),
    ("carrier", "string", "transaction.logistics", None, False),
    ("tracking_number", "string", "transaction.logistics", None, False),
    ("notes", "string", "free_text", None, True),
]

LOG_FIELDS = [
    ("occurred_at", "string", "behavior.browsing", "timestamp", False),
    ("customer_id", "string", "identifier.customer", "subject", False),
    ("session_id", "string", "identifier.session", "identifier", False),
    ("ip", "string", "network.ip", "ip", False),
    ("user_agent", "string", "device.info", "user_agent", False),
    ("device.model", "string", "device.info", None, False),
    ("device.os", "string", "device.info", None, False),
    ("device.browser", "string", "device.info", None, False),
    ("device.language", "string", "device.info", None, False),
    ("url", "string", "behavior.browsing", "url", True),
    ("referrer", "string", "behavior.browsing", "url", True),
    ("click_target", "string", "behavior.click", None, True),
    ("geo.lat", "double", "location.precise", "latitude", False),
    ("geo.lon", "double", "location.precise", "longitude", False),
    ("geo.city", "string", "location.approximate", None, False),
]


@pytest.mark.parametrize(("source", "expected"), [("orders.v1", ORDER_FIELDS), ("logs.v1", LOG_FIELDS)])
def test_personal_fields(catalog: SchemaCatalog, source: str, expected: list[tuple[Any, ...]]) -> None:
    fields = personal_fields(catalog.for_topic(source).raw)
    found = [(f.dotted, f.avro_type, f.category, f.format, f.scan) for f in fields]
    assert found == expected


def test_personal_fields_of_a_multi_branch_union() -> None:
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "a", "type": ["null", "string", "long"], "category": "free_text"},
        {"name": "b", "type": {"type": "string"}, "category": "contact.email"},
        {"name": "c", "type": "string"},
    ]}
    assert [(f.dotted, f.avro_type) for f in personal_fields(schema)] == [("a", "union"), ("b", "string")]


# --- compile_plan with the default policy -----------------------------------------------------------

def test_default_orders_plan(catalog: SchemaCatalog, default_policy: Policy) -> None:
    plan = plan_for(catalog, default_policy, "orders.v1")
    assert plan.output == ORDERS_OUT
    assert plan.policy_version == default_policy.version
    assert plan.subject_path == ("customer_id",)
    assert plan.fallback_key_path is None
    assert plan.context_min_length == 3
    strategies = {op.info.dotted: op.strategy for op in plan.ops}
    assert strategies == {
        "order_id": "pseudonym", "customer_id": "pseudonym", "customer.name": "drop", "customer.email": "drop",
        "customer.phone": "drop", "customer.date_of_birth": "generalize", "shipping_address.street": "drop",
        "shipping_address.city": "drop",
        "shipping_address.postcode": "generalize", "shipping_address.region": "drop",
        "total_amount": "keep", "payment_status": "keep",
        "carrier": "keep", "tracking_number": "mask", "notes": "derive",
    }
    assert all(op.tag == f"{op.info.category}:{op.strategy}" for op in plan.ops)


def test_default_logs_plan(catalog: SchemaCatalog, default_policy: Policy) -> None:
    plan = plan_for(catalog, default_policy, "logs.v1")
    assert plan.subject_path == ("customer_id",)
    assert plan.fallback_key_path == ("session_id",)
    strategies = {op.info.dotted: op.strategy for op in plan.ops}
    assert strategies["occurred_at"] == "generalize"
    assert strategies["user_agent"] == "generalize"
    assert strategies["device.model"] == "drop"
    assert strategies["device.os"] == "keep"
    assert strategies["ip"] == "generalize"
    assert strategies["geo.lat"] == strategies["geo.lon"] == "generalize"
    assert strategies["url"] == strategies["referrer"] == strategies["click_target"] == "redact"


@pytest.mark.parametrize("source", ["orders.v1", "logs.v1"])
def test_redaction_runs_last_and_only_transformed_strings_are_context(
    catalog: SchemaCatalog, default_policy: Policy, source: str
) -> None:
    plan = plan_for(catalog, default_policy, source)
    kinds = [op.found_inside for op in plan.ops]
    assert kinds == sorted(kinds)
    assert any(kinds)
    for op in plan.ops:
        assert op.collects_context == (op.strategy not in ("keep", "redact", "derive")
                                       and op.info.avro_type == "string")
        assert op.found_inside == (op.strategy in ("redact", "derive"))


# --- compile_plan failures ------------------------------------------------------------------------

def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return edit


COMPILE_ERRORS = [
    # id, source, policy edit, fragments the message must contain
    ("mask-on-latitude", "logs.v1", _set("outputs", LOGS_OUT, "fields", "geo.lat", value="mask"),
     ["outputs.\"logs.anonymized.v1\".fields.\"geo.lat\" = 'mask' cannot apply to field geo.lat of logs.v1",
      "needs a string field"]),
    ("generalize-on-name", "orders.v1", _set("outputs", ORDERS_OUT, "fields", "customer.name", value="generalize"),
     ["outputs.\"orders.anonymized.v1\".fields.\"customer.name\" = 'generalize' cannot apply to field "
      "customer.name of orders.v1", "format None"]),
    ("pseudonym-on-double", "orders.v1", _set("outputs", ORDERS_OUT, "fields", "total_amount", value="pseudonym"),
     ["fields.\"total_amount\" = 'pseudonym'", "total_amount is double"]),
    ("redact-on-enum", "orders.v1", _set("outputs", ORDERS_OUT, "fields", "payment_status", value="redact"),
     ["payment_status is enum"]),
    ("generalize-on-url", "logs.v1", _set("outputs", LOGS_OUT, "fields", "url", value="generalize"),
     ["fields.\"url\" = 'generalize'"]),
    ("output-category-override", "logs.v1",
     _set("outputs", LOGS_OUT, "categories", "location.precise", value="pseudonym"),
     ["outputs.\"logs.anonymized.v1\".categories.\"location.precise\" = 'pseudonym' cannot apply to field geo.lat"]),
    ("category-default", "orders.v1", _set("categories", "transaction.payment", value="mask"),
     ["categories.\"transaction.payment\" = 'mask' cannot apply to field payment_status of orders.v1"]),
    ("category-default-on-double", "orders.v1", _set("categories", "transaction.order", value="redact"),
     ["categories.\"transaction.order\" = 'redact' cannot apply to field total_amount"]),
    # regression: redact on a field that is not free text used to compile and publish the name whole
    ("redact-on-name", "orders.v1", _set("categories", "identity.name", value="redact"),
     ["categories.\"identity.name\" = 'redact' cannot apply to field customer.name of orders.v1",
      "free-text"]),
    ("redact-on-session-id", "logs.v1", _set("outputs", LOGS_OUT, "fields", "session_id", value="redact"),
     ["fields.\"session_id\" = 'redact' cannot apply to field session_id"]),
    ("fields-names-non-personal", "orders.v1", _set("outputs", ORDERS_OUT, "fields", "event_id", value="drop"),
     ["outputs.\"orders.anonymized.v1\".fields names event_id, not personal fields of orders.v1"]),
    ("fields-names-a-record", "orders.v1", _set("outputs", ORDERS_OUT, "fields", "customer", value="drop"),
     ["fields names customer, not personal fields"]),
    ("fields-names-nothing", "logs.v1", _set("outputs", LOGS_OUT, "fields", "geo.altitude", value="drop"),
     ["fields names geo.altitude, not personal fields of logs.v1"]),
    ("fields-names-other-topic", "logs.v1", _set("outputs", LOGS_OUT, "fields", "customer.email", value="drop"),
     ["fields names customer.email"]),
]


@pytest.mark.parametrize(("source", "edit", "fragments"), [c[1:] for c in COMPILE_ERRORS],
                         ids=[c[0] for c in COMPILE_ERRORS])
def test_compile_plan_rejects(catalog: SchemaCatalog, base: dict[str, Any], source: str,
                              edit: Callable[[dict[str, Any]], None], fragments: list[str]) -> None:
    policy = variant(base, edit)
    with pytest.raises(PolicyError) as caught:
        plan_for(catalog, policy, source)
    message = str(caught.value)
    assert message.startswith("policy variant.toml: ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("strategy", ["keep", "drop"])
def test_keep_and_drop_apply_to_every_field(catalog: SchemaCatalog, base: dict[str, Any], strategy: str) -> None:
    def only(data: dict[str, Any]) -> None:
        data["categories"] = dict.fromkeys(CATEGORIES, strategy)
        for output in data["outputs"].values():
            output.pop("fields", None)
    policy = variant(base, only)
    for source in OUTPUT_OF:
        assert {op.strategy for op in plan_for(catalog, policy, source).ops} == {strategy}


# --- Plan.apply ------------------------------------------------------------------------------------

def test_apply_to_the_orders_example(catalog: SchemaCatalog, default_policy: Policy, example: Example) -> None:
    order = example("orders.v1")
    original = copy.deepcopy(order)
    tags = plan_for(catalog, default_policy, "orders.v1").apply(order, KEY)
    assert order["customer"] == {"name": None, "email": None, "phone": None, "date_of_birth": "1988"}   # the year
    assert order["shipping_address"] == {"street": None, "city": None, "postcode": "NW",
                                         "region": None, "country": "GB"}
    assert order["order_id"] == pseudonym(KEY, b"order_id", original["order_id"])
    assert order["customer_id"] == pseudonym(KEY, b"subject", original["customer_id"])
    assert order["tracking_number"] == "*************1230"
    assert order["notes"] == "[free_text: en; 70 chars; contact.email, contact.phone]"
    for untouched in ("event_id", "event_type", "occurred_at", "items", "total_amount", "currency",
                      "payment_status", "carrier", "region"):
        assert order[untouched] == original[untouched]
    assert tags == {
        "order_id": "transaction.order:pseudonym",
        "customer_id": "identifier.customer:pseudonym",
        "customer.name": "identity.name:drop",
        "customer.email": "contact.email:drop",
        "customer.phone": "contact.phone:drop",
        "customer.date_of_birth": "identity.dob:generalize",
        "shipping_address.street": "contact.address:drop",
        "shipping_address.city": "contact.address:drop",
        "shipping_address.postcode": "contact.address:generalize",
        "shipping_address.region": "contact.address:drop",
        "total_amount": "transaction.order:keep",
        "payment_status": "transaction.payment:keep",
        "carrier": "transaction.logistics:keep",
        "tracking_number": "transaction.logistics:mask",
        "notes": "free_text:derive[contact.email,contact.phone]",
    }


def test_apply_to_the_logs_example(catalog: SchemaCatalog, default_policy: Policy, example: Example) -> None:
    log = example("logs.v1")
    original = copy.deepcopy(log)
    tags = plan_for(catalog, default_policy, "logs.v1").apply(log, KEY)
    assert log["occurred_at"] == "2026-11-20T14:00:00+00:00"
    assert log["ip"] == "203.0.113.0"
    assert log["user_agent"] == "Chrome / Windows"
    assert log["session_id"] == pseudonym(KEY, b"session_id", original["session_id"])
    assert log["device"] == {"model": None, "os": "Windows 11", "browser": "Chrome 124", "language": "en-GB"}
    assert log["geo"] == {"lat": 51.5, "lon": -0.2, "city": None, "country": "GB", "source": "device"}
    assert log["url"] == "https://shop.example.com/checkout?step=2&email=[contact.email]"
    assert log["referrer"] == "https://mail.example.net/inbox?u=[contact.email]"
    assert "click_target" not in tags
    assert tags["url"] == "behavior.browsing:redact[contact.email]"
    assert tags["geo.lat"] == "location.precise:generalize"


def test_absent_values_and_parents_are_skipped_and_untagged(catalog: SchemaCatalog, default_policy: Policy,
                                                             example: Example) -> None:
    order = example("orders.v1")
    order["shipping_address"] = None
    order["customer"] = {"name": None, "email": "a@b.example", "phone": None}
    order["notes"] = None
    tags = plan_for(catalog, default_policy, "orders.v1").apply(order, KEY)
    assert order["shipping_address"] is None
    assert not any(path.startswith("shipping_address.") for path in tags)
    assert "customer.name" not in tags
    assert "notes" not in tags
    assert tags["customer.email"] == "contact.email:drop"


@pytest.mark.parametrize(("name", "notes", "expected"), [
    ("Zofia Kowalczyk", "Gift for Zofia, from the Kowalczyk family",
     "Gift for [identity.name], from the [identity.name] family"),
    ("Zofia Kowalczyk", "for ZOFIA KOWALCZYK", "for [identity.name]"),
    ("Bo Li", "for Bo Li please", "for [identity.name] please"),
    ("Bo Li", "ask Bo", "ask Bo"),
], ids=["first-and-last", "full-any-case", "short-full-name", "too-short-token"])
def test_record_values_are_redacted_from_free_text(catalog: SchemaCatalog, redacting_policy: Policy,
                                                   example: Example, name: str, notes: str, expected: str) -> None:
    order = example("orders.v1")
    order["customer"]["name"] = name
    order["notes"] = notes
    tags = plan_for(catalog, redacting_policy, "orders.v1").apply(order, KEY)
    assert order["notes"] == expected
    assert tags["notes"] == ("free_text:redact[identity.name]" if expected != notes else "free_text:redact")


def test_other_personal_values_are_redacted_from_free_text(catalog: SchemaCatalog, redacting_policy: Policy,
                                                           example: Example) -> None:
    order = example("orders.v1")
    order["notes"] = (f"re {order['order_id']}: leave at {order['shipping_address']['street']}, "
                      f"{order['shipping_address']['city']}; my id is {order['customer_id']}, via DHL")
    tags = plan_for(catalog, redacting_policy, "orders.v1").apply(order, KEY)
    assert order["notes"] == ("re [transaction.order]: leave at [contact.address], [contact.address]; "
                              "my id is [identifier.customer], via DHL")
    assert tags["notes"] == "free_text:redact[contact.address,identifier.customer,transaction.order]"


def test_context_min_length_is_respected(catalog: SchemaCatalog, base: dict[str, Any], example: Example) -> None:
    policy = variant(base, lambda d: (_set("options", "context_min_length", value=20)(d),
                                      _set("categories", "free_text", value="redact")(d)))
    order = example("orders.v1")
    order["customer"]["name"] = "Zofia Kowalczyk"
    order["notes"] = "for Zofia Kowalczyk"
    plan_for(catalog, policy, "orders.v1").apply(order, KEY)
    assert order["notes"] == "for Zofia Kowalczyk"


def test_redaction_is_opted_in_per_output_field(catalog: SchemaCatalog, base: dict[str, Any],
                                                example: Example) -> None:
    policy = variant(base, _set("outputs", ORDERS_OUT, "fields", "notes", value="redact"))
    order = example("orders.v1")
    tags = plan_for(catalog, policy, "orders.v1").apply(order, KEY)
    assert order["notes"] == "Please call [contact.phone] or mail [contact.email] before delivery"
    assert tags["notes"] == "free_text:redact[contact.email,contact.phone]"


def test_default_policy_derives_record_values_found_in_free_text(catalog: SchemaCatalog, default_policy: Policy,
                                                                 example: Example) -> None:
    order = example("orders.v1")
    order["customer"]["name"] = "Zofia Kowalczyk"
    order["notes"] = "Gift for Zofia, from the Kowalczyk family"
    tags = plan_for(catalog, default_policy, "orders.v1").apply(order, KEY)
    assert order["notes"] == "[free_text: en; 41 chars; identity.name]"
    assert tags["notes"] == "free_text:derive[identity.name]"


def test_overrides_change_the_transform_and_the_tag(catalog: SchemaCatalog, base: dict[str, Any],
                                                    example: Example) -> None:
    policy = variant(base, lambda d: (
        _set("outputs", ORDERS_OUT, "categories", "contact.email", value="mask")(d),
        _set("outputs", ORDERS_OUT, "fields", "customer.phone", value="pseudonym")(d),
        _set("categories", "transaction.logistics", value="drop")(d),
    ))
    order = example("orders.v1")
    tags = plan_for(catalog, policy, "orders.v1").apply(order, KEY)
    assert order["customer"]["email"] == "*************.com"
    assert order["customer"]["phone"] == pseudonym(KEY, b"phone", "+44 20 7946 0958")
    assert order["carrier"] is None
    assert order["tracking_number"] == "*************1230"   # the field entry beats the category default
    assert tags["customer.email"] == "contact.email:mask"
    assert tags["customer.phone"] == "contact.phone:pseudonym"
    assert tags["carrier"] == "transaction.logistics:drop"


def test_pseudonyms_depend_on_the_subject_key(catalog: SchemaCatalog, default_policy: Policy,
                                              example: Example) -> None:
    plan = plan_for(catalog, default_policy, "orders.v1")
    one, two = example("orders.v1"), example("orders.v1")
    plan.apply(one, KEY)
    plan.apply(two, bytes(32))
    assert one["customer_id"] != two["customer_id"]
    assert one["order_id"] != two["order_id"]


def test_get_path() -> None:
    record = {"a": {"b": {"c": 1}}, "n": None}
    assert get_path(record, ("a", "b", "c")) == 1
    assert get_path(record, ("n", "x")) is None
    assert get_path(record, ("missing",)) is None
