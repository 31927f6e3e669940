"""`lethe policy explain`: the worker's pipeline run on one event, said output by output and field by field."""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tickets import SCHEMA, STANZA, ticket

from processors.errors import PolicyError
from processors.explain import Destination, Explanation, FieldRow, explain
from processors.policy import Policy, load_policy, parse_policy
from processors.schemas import SchemaCatalog
from processors.time import iso, parse_time

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "schemas" / "examples"
PSEUDONYM = re.compile(r"^[0-9a-f]{20}$")


def example(topic: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EXAMPLES / f"{topic}.json").read_text(encoding="utf-8"))
    return {**event, **changes}


def run(policy: Policy, catalog: SchemaCatalog, topic: str, event: dict[str, Any] | bytes,
        key: bytes | None = None, secret: bytes | None = None) -> Explanation:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return explain(policy, catalog, topic, raw, key or os.urandom(32), secret or os.urandom(32))


def destination(result: Explanation, topic: str) -> Destination:
    return next(d for d in result.destinations if d.topic == topic)


def row(d: Destination, path: str) -> FieldRow:
    return next(r for r in d.fields if r.path == path)


def dropped(r: FieldRow) -> bool:
    return r.value is not None and r.result is None


def kept(r: FieldRow) -> bool:
    return r.value is not None and r.result == r.value


def pseudonymized(r: FieldRow) -> bool:
    return isinstance(r.value, str) and bool(PSEUDONYM.match(r.result))


ORDER_ROWS: list[tuple[str, str, str, str, Callable[[FieldRow], bool]]] = [
    # path, category, strategy, the policy entry that chose it, what became of the event's value
    ("order_id", "transaction.order", "pseudonym", 'outputs."orders.anonymized.v1".fields."order_id"', pseudonymized),
    ("customer_id", "identifier.customer", "pseudonym", 'categories."identifier.customer"', pseudonymized),
    ("customer.name", "identity.name", "drop", 'categories."identity.name"', dropped),
    ("customer.email", "contact.email", "drop", 'categories."contact.email"', dropped),
    ("shipping_address.postcode", "contact.address", "generalize",
     'outputs."orders.anonymized.v1".fields."shipping_address.postcode"',
     lambda r: r.value.startswith(r.result) and r.result != r.value),
    ("tracking_number", "transaction.logistics", "mask", 'outputs."orders.anonymized.v1".fields."tracking_number"',
     lambda r: r.result.endswith(r.value[-4:]) and r.result.startswith("*")),
    ("total_amount", "transaction.order", "keep", 'categories."transaction.order"', kept),
    ("notes", "free_text", "derive", 'categories."free_text"',
     lambda r: r.result.startswith("[free_text:") and "@" not in r.result),
]


@pytest.mark.parametrize(("path", "category", "strategy", "entry", "became"), ORDER_ROWS,
                         ids=[case[0] for case in ORDER_ROWS])
def test_each_field_of_the_example_order_says_category_strategy_entry_and_value(
        default_policy: Policy, catalog: SchemaCatalog, path: str, category: str, strategy: str, entry: str,
        became: Callable[[FieldRow], bool]) -> None:
    order = example("orders.v1")
    r = row(destination(run(default_policy, catalog, "orders.v1", order), "orders.anonymized.v1"), path)
    assert (r.category, r.strategy, r.entry) == (category, strategy, entry)
    value: Any = order
    for segment in path.split("."):
        value = value[segment]
    assert r.value == value and became(r), r


def test_the_example_order_for_every_output_and_partner(default_policy: Policy, catalog: SchemaCatalog) -> None:
    order = example("orders.v1")
    result = run(default_policy, catalog, "orders.v1", order)
    assert result.valid and result.dlq is None and result.subject == "customer_id"
    assert [d.topic for d in result.destinations] == [o.topic for o in default_policy.outputs_for("orders.v1")]
    analytics = destination(result, "orders.anonymized.v1")
    assert analytics.published and analytics.consent == (("analytics", "opt-out"),)
    assert analytics.key == row(analytics, "customer_id").result   # keyed by the subject's pseudonym
    assert row(analytics, "notes").found == ("contact.email", "contact.phone")   # the note holds both
    assert analytics.tags["notes"] == "free_text:derive[contact.email,contact.phone]"
    # a partner: only its declared fields, in its order, keyed by the raw order id
    for name, partner in default_policy.partners.items():
        shared = destination(result, partner.topic)
        assert shared.partner == name and [r.path for r in shared.fields] == list(partner.fields)
        assert shared.key == order["order_id"] and shared.key_from == "order_id"
        assert all(kept(r) for r in shared.fields if r.value is not None)
    assert "customer.name" not in {r.path for r in destination(result, "partners.paynow.v1").fields}
    # GB is in the UK region: into the EU under adequacy, to the payment partner in the US under SCCs
    for topic, destination_region, safeguard in [("orders.anonymized.v1", "EU", "adequacy"),
                                                 ("partners.paynow.v1", "US", "scc")]:
        transfer = destination(result, topic).transfer
        assert transfer is not None
        assert (transfer.origin, transfer.origin_field, transfer.origin_value) == (
            "UK", "shipping_address.country", order["shipping_address"]["country"])
        assert (transfer.destination, transfer.decision, transfer.safeguard) == (destination_region, "allow", safeguard)
    # placed: no deadline yet; the source's rules are listed
    assert result.deadlines == () and len(result.rules) == 2 and "orders-completed" in result.rules[0]


@pytest.mark.parametrize(("topic", "event", "rule"), [
    ("orders.v1", example("orders.v1", event_type="completed"), "orders-completed"),
    ("orders.v1", example("orders.v1", event_type="refunded"), "orders-cancelled"),
    ("logs.v1", example("logs.v1"), "logs"),
], ids=["order-completed", "order-refunded", "log-event"])
def test_the_retention_deadline_an_event_sets(default_policy: Policy, catalog: SchemaCatalog, topic: str,
                                              event: dict[str, Any], rule: str) -> None:
    result = run(default_policy, catalog, topic, event)
    expected = default_policy.retention[rule]
    assert [(d.rule, d.action) for d in result.deadlines] == [(rule, expected.action)]
    assert result.deadlines[0].due == iso(parse_time(event["occurred_at"]) + expected.after_seconds)
    assert result.deadlines[0].categories == (expected.categories if expected.action == "anonymize" else ())


def test_a_log_event(default_policy: Policy, catalog: SchemaCatalog) -> None:
    log = example("logs.v1")
    analytics = destination(run(default_policy, catalog, "logs.v1", log), "logs.anonymized.v1")
    assert analytics.consent == (("analytics", "opt-out"), ("cookies_analytics", "opt-out"))
    ip = row(analytics, "ip")
    assert (ip.category, ip.strategy, ip.value) == ("network.ip", "generalize", log["ip"])
    assert ip.result != ip.value and ip.result.startswith(".".join(log["ip"].split(".")[:3]))
    assert row(analytics, "device.model").strategy == "drop"


def test_a_nested_source_of_ones_own(tmp_path: Path, default_policy_path: Path) -> None:
    """Paths through arrays ([]) and maps ({}) show every value found there, before and after."""
    (tmp_path / "tickets.v1.avsc").write_text(json.dumps(SCHEMA), encoding="utf-8")
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(default_policy_path.read_text(encoding="utf-8") + STANZA, encoding="utf-8")
    event = ticket()
    result = run(load_policy(policy_path), SchemaCatalog.load(tmp_path), "tickets.v1", event)
    analytics = destination(result, "tickets.anonymized.v1")
    assert result.subject == "reporter.id" and PSEUDONYM.match(analytics.key or "")
    assert pseudonymized(row(analytics, "reporter.id"))
    bodies = row(analytics, "messages[].body")
    assert bodies.value == [m["body"] for m in event["messages"]] and len(bodies.result) == len(bodies.value)
    assert {"contact.email", "contact.phone"} <= set(bodies.found)
    assert not any(event["reporter"]["contact"]["email"] in text for text in bodies.result)
    custom = row(analytics, "custom{}.value")
    assert custom.value == [v["value"] for v in event["custom"].values()]
    phones = row(analytics, "reporter.contact.phones")
    assert phones.value == event["reporter"]["contact"]["phones"] and phones.result is None
    ips = row(analytics, "messages[].attachments[].uploader_ip")
    assert ips.value == [a["uploader_ip"] for m in event["messages"] for a in m["attachments"]]
    assert result.deadlines == ()   # opened; closed would set tickets-closed


@pytest.mark.parametrize(("event", "rule", "path"), [
    (b"not json", "json", ""),
    ({k: v for k, v in example("orders.v1").items() if k != "order_id"}, "required", "order_id"),
    (example("orders.v1", customer_id=8841), "type", "customer_id"),
    (example("orders.v1", event_type="lost"), "enum", "event_type"),
], ids=["not-json", "missing-field", "wrong-type", "not-a-symbol"])
def test_an_invalid_event_gets_the_reason_a_worker_dead_letters_it_with(
        default_policy: Policy, catalog: SchemaCatalog, event: dict[str, Any] | bytes, rule: str, path: str) -> None:
    result = run(default_policy, catalog, "orders.v1", event)
    assert not result.valid and result.destinations == ()
    assert result.dlq is not None and (result.dlq["rule"], result.dlq["field_path"]) == (rule, path)
    assert "8841" not in json.dumps(result.as_json())   # the reason names the rule, never the value


def test_fields_the_schema_does_not_declare_are_named_with_what_they_hold(
        default_policy: Policy, catalog: SchemaCatalog) -> None:
    order = copy.deepcopy(example("orders.v1"))
    order["customer"]["second_email"] = "alice.private@example.org"
    order["loyalty_points"] = 120
    result = run(default_policy, catalog, "orders.v1", order)
    assert result.unknown == {"customer.second_email": ("contact.email",), "loyalty_points": ()}
    analytics = destination(result, "orders.anonymized.v1")
    assert "customer.second_email" not in analytics.tags   # dropped, like every undeclared field
    assert "alice.private" not in json.dumps(result.unknown)


def test_pseudonyms_are_the_runs_own(default_policy: Policy, catalog: SchemaCatalog) -> None:
    order, key, secret = example("orders.v1"), os.urandom(32), os.urandom(32)

    def subject(k: bytes, s: bytes) -> str:
        result = run(default_policy, catalog, "orders.v1", order, k, s)
        return str(row(destination(result, "orders.anonymized.v1"), "customer_id").result)

    assert subject(key, secret) == subject(key, secret)
    assert subject(key, secret) != subject(os.urandom(32), secret) != subject(key, os.urandom(32))


@pytest.mark.parametrize("decision", ["block", "pseudonymize"])
def test_a_transfer_the_policy_blocks_or_pseudonymizes(catalog: SchemaCatalog, default_policy_path: Path,
                                                       decision: str) -> None:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    rule = next(r for r in data["transfers"]["rules"] if (r["origin"], r["destination"]) == ("EU", "US"))
    rule.update(decision=decision, safeguard="none")
    order = copy.deepcopy(example("orders.v1"))
    order["shipping_address"]["country"] = "DE"
    paynow = destination(run(parse_policy(data), catalog, "orders.v1", order), "partners.paynow.v1")
    assert paynow.transfer is not None and (paynow.transfer.origin, paynow.transfer.decision) == ("EU", decision)
    order_id = row(paynow, "order_id")
    if decision == "block":
        assert not paynow.published and paynow.key is None and order_id.result is None
    else:   # what the partner would get as it is becomes a pseudonym, and so does the key
        assert paynow.published and order_id.strategy == "pseudonym" and pseudonymized(order_id)
        assert order_id.entry.startswith("transfers: EU to US is pseudonymize")
        assert paynow.key != order["order_id"]


def test_a_topic_that_is_not_a_source(default_policy: Policy, catalog: SchemaCatalog) -> None:
    with pytest.raises(PolicyError, match=r"consent\.v1 is not a source the policy declares"):
        run(default_policy, catalog, "consent.v1", example("consent.v1"))
