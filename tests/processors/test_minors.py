"""Minors by age (processors/minors.py): the age rule, its policy knobs, and the pipeline's gate."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from processors.errors import PolicyError
from processors.minors import MinorsRule, minor_found, minor_request_id, parse_minors, under_age
from processors.pipeline import TopicPipeline
from processors.policy import Policy, parse_policy
from processors.schemas import SchemaCatalog, TopicSchema
from processors.sources import check_sources

MASTER = b"M" * 32

AGES = [
    # date of birth, event time, age limit, under age?
    ("2008-11-20", "2026-11-20T09:00:00Z", 18, False),          # the 18th birthday itself: of age
    ("2008-11-21", "2026-11-20T09:00:00Z", 18, True),           # the day before it
    ("2008-11-20", "2026-11-19T23:59:59Z", 18, True),
    # the day of the event in its own offset: 19 Nov there though 20 Nov in UTC, and the other way round
    ("2008-11-20", "2026-11-19T23:30:00-02:00", 18, True),
    ("2008-11-20", "2026-11-20T00:30:00+02:00", 18, False),
    ("2008-02-29", "2026-02-28T12:00:00Z", 18, True),           # born on a leap day: not 18 on 28 Feb ...
    ("2008-02-29", "2026-03-01T00:00:00Z", 18, False),          # ... but on 1 March
    ("2008-02-29", "2028-02-29T00:00:00Z", 20, False),          # a leap year: the day itself
    ("2012-06-01", "2026-11-20T09:00:00Z", 18, True),
    ("2012-06-01", "2026-11-20T09:00:00Z", 14, False),          # the age limit is the policy's
    ("1988-04-17", "2026-11-20T09:00:00Z", 18, False),
    ("2026-11-20", "2026-11-20T09:00:00Z", 18, True),           # born that day
    # not evidence of anything: no crash, not a minor
    ("2030-01-01", "2026-11-20T09:00:00Z", 18, False),          # born after the event
    ("2012-02-30", "2026-11-20T09:00:00Z", 18, False),          # no such day
    ("20.11.2012", "2026-11-20T09:00:00Z", 18, False),
    ("2012-6-1", "2026-11-20T09:00:00Z", 18, False),
    ("20121120", "2026-11-20T09:00:00Z", 18, False),
    ("2012-11-20T00:00:00Z", "2026-11-20T09:00:00Z", 18, False),
    ("", "2026-11-20T09:00:00Z", 18, False),
    (None, "2026-11-20T09:00:00Z", 18, False),
    (20121120, "2026-11-20T09:00:00Z", 18, False),
    ("2012-11-20", "not a time", 18, False),
    ("2012-11-20", None, 18, False),
]


@pytest.mark.parametrize(("born", "when", "age", "minor"), AGES, ids=[f"{c[0]}@{c[1]}/{c[2]}" for c in AGES])
def test_under_age(born: Any, when: Any, age: int, minor: bool) -> None:
    assert under_age(born, when, age) is minor


KNOBS = [
    (None, 18),
    ({}, 18),
    ({"age": 16}, 16),
    ({"age": 21}, 21),
]
BAD_KNOBS = [
    ({"age": 0}, "minors.age = 0: use a whole number of years from 1 to 30"),
    ({"age": 31}, "from 1 to 30"),
    ({"age": "18"}, "minors.age = '18'"),
    ({"age": 17.5}, "minors.age = 17.5"),
    ({"age": True}, "minors.age = True"),
    ({"age": 18, "field": "dob"}, "[minors]: unknown key(s) field"),
    (18, "[minors] must be a table"),
]


@pytest.mark.parametrize(("raw", "age"), KNOBS)
def test_the_age_knob(raw: Any, age: int) -> None:
    assert parse_minors(raw, "p.toml").age == age


@pytest.mark.parametrize(("raw", "message"), BAD_KNOBS)
def test_a_wrong_age_knob_is_named(raw: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=r"policy p\.toml: ") as info:
        parse_minors(raw, "p.toml")
    assert message in str(info.value)


@pytest.fixture(scope="module")
def shipped(default_policy_path: Path) -> dict[str, Any]:
    return tomllib.loads(default_policy_path.read_text(encoding="utf-8"))


def with_source(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    for key, value in changes.items():
        if value is None:
            copy["sources"]["orders.v1"].pop(key, None)
        else:
            copy["sources"]["orders.v1"][key] = value
    return copy


def test_the_shipped_policy_applies_the_rule_to_orders(default_policy: Policy) -> None:
    assert default_policy.minors.age == 18
    assert default_policy.sources["orders.v1"].date_of_birth == ("customer", "date_of_birth")
    assert default_policy.sources["logs.v1"].date_of_birth is None


SOURCE_MISTAKES = [
    ({"date_of_birth": "customer.birthday"}, 'sources."orders.v1".date_of_birth = \'customer.birthday\': not a field'),
    ({"date_of_birth": "items"}, "is not a string in orders.v1.avsc"),
    ({"date_of_birth": "customer.name"}, "the field's category in orders.v1.avsc is 'identity.name'"),
    ({"date_of_birth": "customer..dob"}, "give the dotted path of a field"),
]


@pytest.mark.parametrize(("changes", "message"), SOURCE_MISTAKES, ids=[c[1][:40] for c in SOURCE_MISTAKES])
def test_a_wrong_date_of_birth_path_stops_start_up(shipped: dict[str, Any], catalog: SchemaCatalog,
                                                   changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as info:
        check_sources(parse_policy(with_source(shipped, **changes), "p.toml"), catalog)
    assert message in str(info.value)


def test_minors_without_any_date_of_birth_is_refused(shipped: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match=r"\[minors\] applies to a source's date of birth, but no source"):
        parse_policy(with_source(shipped, date_of_birth=None), "p.toml")
    without = with_source(shipped, date_of_birth=None)
    del without["minors"]
    assert parse_policy(without, "p.toml").sources["orders.v1"].date_of_birth is None


def test_an_event_source_without_a_subject_has_no_date_of_birth(shipped: dict[str, Any]) -> None:
    data = json.loads(json.dumps(shipped))
    data["sources"]["logs.v1"].pop("subject")
    data["sources"]["logs.v1"]["date_of_birth"] = "customer_id"
    with pytest.raises(PolicyError, match=r'sources\."logs\.v1"\.date_of_birth needs a subject'):
        parse_policy(data, "p.toml")


# --- the pipeline ------------------------------------------------------------------------------------

class View:
    def __init__(self, gates: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._gates = gates or {}

    def secret(self, subject: str, partition: int) -> bytes | None:
        return subject.encode().ljust(32, b"s")[:32]

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        return self._gates.get(subject) if subject is not None else None


def order(example: Any, customer: str, born: str | None, when: str = "2026-11-20T14:03:22Z") -> dict[str, Any]:
    event: dict[str, Any] = example("orders.v1")
    event["customer_id"], event["occurred_at"] = customer, when
    event["customer"]["date_of_birth"] = born
    return event


@pytest.fixture(scope="module")
def orders(catalog: SchemaCatalog, default_policy: Policy) -> TopicPipeline:
    return TopicPipeline(catalog, default_policy, "orders.v1", MASTER)


def test_a_minor_reaches_no_output_and_is_reported_once(orders: TopicPipeline, example: Any) -> None:
    batch = [order(example, "kid", "2012-06-01"), order(example, "adult", "1988-04-17"),
             order(example, "kid", None), order(example, "kid", "2012-06-01"), order(example, "quiet", None)]
    result = orders.process([json.dumps(e).encode() for e in batch], [3, 1, 3, 3, 0], View())
    assert result.minors == [(3, "kid")]   # once, on the subject's partition
    assert {out.index for out in result.outputs} == {1, 4}   # no record of the minor, with a dob or not
    outputs = len(orders.plans)
    assert sum(count for (_, reason, subject), count in result.gated.items()
               if reason == "quarantine" and subject == "kid") == 3 * outputs
    assert not any(share.subject == "kid" for _, share in result.shares)
    adult = [json.loads(out.value) for out in result.outputs if out.topic == "orders.anonymized.v1" and out.index == 1]
    assert adult[0]["customer"]["date_of_birth"] == "1988"   # the year only
    assert adult[0]["lethe"]["tags"]["customer.date_of_birth"] == "identity.dob:generalize"
    partners = [json.loads(out.value) for out in result.outputs if out.topic.startswith("partners.")]
    assert partners and all("date_of_birth" not in json.dumps(p) for p in partners)   # not declared: never sent


def test_a_quarantined_subject_is_not_reported_again(orders: TopicPipeline, example: Any) -> None:
    batch = [json.dumps(order(example, "kid", "2012-06-01")).encode()]
    assert orders.process(batch, [0], View({"kid": {"*": "quarantine"}})).minors == []
    # another gate (a restriction of one output) does not stand for the quarantine
    restricted = orders.process(batch, [0], View({"kid": {"orders.anonymized.v1": "restrict"}}))
    assert restricted.minors == [(0, "kid")] and restricted.outputs == []


def test_a_malformed_date_of_birth_is_not_a_minor(orders: TopicPipeline, example: Any) -> None:
    batch = [order(example, "odd", born) for born in ("2012-02-30", "01.06.2012", "soon", "2030-01-01")]
    result = orders.process([json.dumps(e).encode() for e in batch], [0] * 4, View())
    assert result.minors == [] and result.dead == []
    assert {out.index for out in result.outputs} == {0, 1, 2, 3}
    anonymized = [json.loads(o.value) for o in result.outputs if o.topic == "orders.anonymized.v1"]
    assert [a["customer"]["date_of_birth"] for a in anonymized] == [None, None, None, "2030"]


def test_an_order_written_with_orders_v1_version_1_is_read(orders: TopicPipeline, catalog: SchemaCatalog,
                                                           example: Any, single_object: Any,
                                                           schema_dir: Path) -> None:
    """Records already on the topic, Avro-encoded with the released version 1, decode with no date of birth."""
    raw = json.loads((schema_dir / "history" / "orders.v1" / "v1.avsc").read_text())
    v1 = next(s for s in catalog.by_fingerprint.values() if s.raw == raw)
    assert isinstance(v1, TopicSchema) and v1.version == 1
    event = example("orders.v1")
    del event["customer"]["date_of_birth"]
    result = orders.process([single_object(v1, event)], [0], View())
    assert result.dead == [] and result.minors == []
    out = json.loads(next(o.value for o in result.outputs if o.topic == "orders.anonymized.v1"))
    assert out["customer"]["date_of_birth"] is None


def test_the_rule_files_a_request_that_names_it_and_no_date_of_birth() -> None:
    request, audit = minor_found("kid", "orders.v1", 18, 1_795_000_000.0)
    assert request["request_id"] == minor_request_id("kid") != minor_request_id("kid2")
    assert (request["type"], request["channel"], request["customer_id"]) == ("minor_flag", "internal", "kid")
    assert request["details"]["rule"] == "minors.age"
    assert (audit["action"], audit["rule"], audit["request_id"]) == ("minor_found", "minors.age",
                                                                    request["request_id"])
    assert audit["audit_id"] == minor_found("kid", "orders.v1", 18, 1_800_000_000.0)[1]["audit_id"]   # a replay
    assert "2012" not in json.dumps([request, audit])


def test_rule_find_reads_the_declared_paths() -> None:
    rule = MinorsRule(("profile", "born"), ("at",), ("who",), 18)
    records = [(0, {"who": "a", "at": "2026-01-01T00:00:00Z", "profile": {"born": "2010-01-01"}}),
               (1, {"who": "b", "at": "2026-01-01T00:00:00Z", "profile": None}),
               (2, {"who": None, "at": "2026-01-01T00:00:00Z", "profile": {"born": "2010-01-01"}})]
    assert rule.find(records, {}) == [(0, "a")]


def test_a_policy_written_before_dates_of_birth_drops_them(shipped: dict[str, Any], catalog: SchemaCatalog,
                                                           example: Any) -> None:
    """An older policy file (no identity.dob, no [minors], no date_of_birth) still starts, drops the date
    and, reading the shipped sources, applies the rule at 18."""
    data = json.loads(json.dumps(shipped))
    del data["categories"]["identity.dob"], data["minors"], data["sources"]
    del data["outputs"]["orders.anonymized.v1"]["fields"]["customer.date_of_birth"]
    policy = parse_policy(data, "old.toml")
    check_sources(policy, catalog)
    assert policy.categories["identity.dob"] == "drop" and policy.minors.age == 18
    pipe = TopicPipeline(catalog, policy, "orders.v1", MASTER)
    result = pipe.process([json.dumps(order(example, "adult", "1988-04-17")).encode(),
                           json.dumps(order(example, "kid", "2012-04-17")).encode()], [0, 0], View())
    assert result.minors == [(0, "kid")]
    out = next(json.loads(o.value) for o in result.outputs if o.topic == "orders.anonymized.v1")
    assert out["customer"]["date_of_birth"] is None and out["lethe"]["tags"]["customer.date_of_birth"] == \
        "identity.dob:drop"


def test_policy_explain_says_the_rule_fired(catalog: SchemaCatalog, default_policy: Policy, example: Any) -> None:
    from processors.explain import explain

    minor = explain(default_policy, catalog, "orders.v1", json.dumps(order(example, "kid", "2012-06-01")).encode(),
                    MASTER, b"s" * 32)
    assert minor.minor is not None and minor.minor.startswith("minors.age: the date of birth (customer.date_of_birth)")
    assert minor.destinations and not any(d.published for d in minor.destinations)
    adult = explain(default_policy, catalog, "orders.v1", json.dumps(order(example, "a", "1988-04-17")).encode(),
                    MASTER, b"s" * 32)
    assert adult.minor is None and all(d.published for d in adult.destinations)
    row = next(r for d in adult.destinations if d.topic == "orders.anonymized.v1" for r in d.fields
               if r.path == "customer.date_of_birth")
    assert (row.category, row.strategy, row.value, row.result) == ("identity.dob", "generalize", "1988-04-17", "1988")
