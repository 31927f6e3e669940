"""RetentionPlan.timers_for and Timer.encode against their plain first versions, kept here as the reference:
the fast paths (per-source getters, slots filled directly, one copy of orjson's output) must give the same
timers, the same encoded bytes and the same errors for every kind of source, name and record."""

from __future__ import annotations

import tracemalloc
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import astuple, fields
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from processors.retention.rules import RetentionRule
from processors.retention.timers import RetentionPlan, Timer, _timer
from processors.sources import SHIPPED, Source
from processors.time import parse_time

# --- the reference: timers_for and encode as first written (processors/retention/timers.py before the fast path)


def _get(record: Any, path: tuple[str, ...]) -> Any:
    value: Any = record
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


def reference_timers_for(plan: RetentionPlan, source: str, record: Any) -> list[Timer]:
    names = {s.family: topic for topic, s in reversed(list(plan.sources.items()))}
    topic = names.get(source, source)
    rules = plan.by_source.get(topic)
    declared = plan.sources.get(topic)
    if not rules or declared is None:
        return []
    key = _get(record, declared.record_id)
    if not isinstance(key, str) or not key:
        return []
    subject = (_get(record, declared.subject) if declared.subject else None) or ""
    status = _get(record, declared.status) if declared.status else None
    kind = "" if (declared.family == "orders") == (declared.kind == "records") else declared.kind
    timers = []
    occurred: float | None = None
    for rule in rules:
        if rule.trigger == "order_event" and status not in rule.on:
            continue
        if occurred is None:
            occurred = parse_time(_get(record, declared.event_time))
        categories = rule.categories if rule.action == "anonymize" else ()
        timers.append(Timer(f"{rule.name}/{key}", rule.name, rule.action, declared.family, subject, key,
                            categories, occurred + rule.after_seconds, kind))
    return timers


def reference_encode(timer: Timer) -> bytes:
    fields: list[Any] = [timer.rule, timer.action, timer.family, timer.subject, timer.record_key,
                         list(timer.categories), timer.due]
    if timer.kind:
        fields.append(timer.kind)
    return bytes(memoryview(orjson.dumps(fields)))


# --- sources and rules: shipped, nested paths, no subject, kinds the family does not tell, a topic named
# like another source's family

TICKETS = Source("tickets.v1", "tickets.v1.avsc", "records", ("reporter", "id"), ("ticket", "id"), ("at",),
                 ("state", "name"))
PINGS = Source("pings.v2", "pings.v2.avsc", "events", None, ("id",), ("meta", "at"))
ORDERS_AS_EVENTS = Source("orders.v2", "orders.v2.avsc", "events", ("customer_id",), ("order_id",),
                          ("occurred_at",))
LOGS_AS_RECORDS = Source("logs", "logs.avsc", "records", ("customer_id",), ("event_id",), ("occurred_at",),
                         ("event_type",))
SOURCES = {**SHIPPED, "tickets.v1": TICKETS, "pings.v2": PINGS, "orders.v2": ORDERS_AS_EVENTS,
           "logs": LOGS_AS_RECORDS}


def rule(name: str, source: Source, trigger: str, on: tuple[str, ...], after: float, action: str,
         categories: tuple[str, ...] = ("contact.email", "identity.name")) -> RetentionRule:
    return RetentionRule(name, source.family, trigger, on, after, action, categories, source.topic)


RULES = {r.name: r for r in (
    rule("orders-completed", SHIPPED["orders.v1"], "order_event", ("completed",), 7 * 365 * 86_400, "anonymize"),
    rule("orders-cancelled", SHIPPED["orders.v1"], "order_event", ("cancelled", "refunded"), 2 * 365 * 86_400,
         "delete"),
    rule("orders-any", SHIPPED["orders.v1"], "event_time", (), 30.5, "anonymize", ()),
    rule("logs", SHIPPED["logs.v1"], "event_time", (), 90 * 86_400, "delete"),
    rule("tickets-closed", TICKETS, "order_event", ("closed",), 30 * 86_400, "anonymize"),
    rule("pings", PINGS, "event_time", (), 60, "delete"),
    rule("orders-v2", ORDERS_AS_EVENTS, "event_time", (), 1, "anonymize", ("contact.email",)),
    rule("logs-records", LOGS_AS_RECORDS, "order_event", ("paid",), 2, "delete"),
    RetentionRule("nowhere", "nowhere", "event_time", (), 5, "delete", (), "nowhere.v1"),   # undeclared source
)}

T = "2026-11-21T09:30:00Z"

RECORDS: list[tuple[str, Any]] = [
    ("orders.v1", {"order_id": "ORD-1", "customer_id": "cust-1", "event_type": "completed", "occurred_at": T}),
    ("orders.v1", {"order_id": "ORD-1", "customer_id": "cust-1", "event_type": "refunded",
                   "occurred_at": "2026-11-21T11:30:00.512+02:00"}),
    ("orders.v1", {"order_id": "ORD-1", "customer_id": "cust-1", "event_type": "placed", "occurred_at": T}),
    ("orders.v1", {"order_id": "ORD-1", "event_type": "completed", "occurred_at": "2026-11-21T09:30:00z"}),
    ("orders.v1", {"order_id": "ORD-1", "customer_id": None, "occurred_at": "2026-11-21T09:30:00"}),
    ("orders.v1", {"order_id": "", "customer_id": "cust-1", "event_type": "completed", "occurred_at": T}),
    ("orders.v1", {"order_id": 7, "customer_id": "cust-1", "event_type": "completed", "occurred_at": T}),
    ("orders.v1", {"customer_id": "cust-1", "event_type": "completed", "occurred_at": T}),
    ("orders.v1", {"order_id": "ORD-1", "customer_id": "", "event_type": ["completed"], "occurred_at": T}),
    ("orders.v1", {"order_id": "ORD-ü/\"x\"", "customer_id": "çust\n", "event_type": "completed",
                   "occurred_at": T}),
    ("orders.v1", {"order_id": "ORD-1", "customer_id": "cust-1", "event_type": "completed", "occurred_at": 17}),
    ("orders.v1", {"order_id": "ORD-1", "customer_id": "cust-1", "event_type": "completed", "occurred_at": "soon"}),
    ("orders.v1", OrderedDict(order_id="ORD-2", customer_id="c", event_type="completed", occurred_at=T)),
    ("orders.v1", MappingProxyType({"order_id": "ORD-3", "customer_id": "c", "event_type": "cancelled",
                                    "occurred_at": T})),
    ("orders.v1", ["not", "a", "mapping"]),
    ("orders.v1", None),
    ("orders", {"order_id": "ORD-1", "customer_id": "cust-1", "event_type": "completed", "occurred_at": T}),
    ("logs.v1", {"event_id": "log-1", "customer_id": "cust-1", "occurred_at": T}),
    ("logs.v1", {"event_id": "log-1", "customer_id": None, "occurred_at": "2026-11-21T09:30:00.000001Z"}),
    ("logs.v1", {"event_id": "log-1", "occurred_at": None}),
    ("tickets.v1", {"ticket": {"id": "T-1"}, "reporter": {"id": "r-1"}, "state": {"name": "closed"}, "at": T}),
    ("tickets.v1", {"ticket": {"id": "T-1"}, "reporter": "r-1", "state": {"name": "open"}, "at": T}),
    ("tickets.v1", {"ticket": "T-1", "reporter": {"id": "r-1"}, "state": {"name": "closed"}, "at": T}),
    ("tickets", {"ticket": MappingProxyType({"id": "T-2"}), "state": {"name": "closed"}, "at": T}),
    ("pings.v2", {"id": "p-1", "meta": {"at": T}}),
    ("pings.v2", {"id": "p-1", "meta": {}}),
    ("pings", {"id": "p-1", "meta": {"at": "2026-11-21 09:30:00+00:00"}}),
    ("orders.v2", {"order_id": "ORD-1", "customer_id": "cust-1", "occurred_at": T}),
    ("logs", {"event_id": "e-1", "customer_id": "cust-1", "event_type": "paid", "occurred_at": T}),
    ("logs", {"event_id": "e-1", "customer_id": "cust-1", "event_type": "placed", "occurred_at": T}),
    ("nowhere.v1", {"id": "x", "occurred_at": T}),
    ("nowhere", {"id": "x", "occurred_at": T}),
    ("unknown.v9", {"order_id": "ORD-1", "occurred_at": T}),
]

PLANS = {
    "shipped and more": RetentionPlan(RULES, SOURCES),
    "shipped": RetentionPlan({n: r for n, r in RULES.items() if r.source in SHIPPED}),
    "none": RetentionPlan({}, SOURCES),
}


def outcome(call: Any) -> Any:
    try:
        return [(astuple(timer), timer.encode()) for timer in call()]
    except Exception as exc:   # the same error, or the same timers
        return type(exc)


@pytest.mark.parametrize("plan", PLANS.values(), ids=PLANS.keys())
@pytest.mark.parametrize(("source", "record"), RECORDS)
def test_timers_for_is_the_reference(plan: RetentionPlan, source: str, record: Any) -> None:
    found = outcome(lambda: plan.timers_for(source, record))
    expected = outcome(lambda: reference_timers_for(plan, source, record))
    assert found == expected
    if isinstance(expected, list):
        for (values, encoded), timer in zip(found, reference_timers_for(plan, source, record), strict=True):
            assert encoded == reference_encode(timer)
            assert [type(v) for v in values] == [type(v) for v in astuple(timer)]


def test_the_table_reaches_every_branch() -> None:
    """Timers, no timers and errors, from plain dicts and other mappings: the table above tests something."""
    plan = PLANS["shipped and more"]
    results = [outcome(lambda s=source, r=record: reference_timers_for(plan, s, r)) for source, record in RECORDS]
    assert sum(1 for r in results if isinstance(r, list) and r) >= 15
    assert sum(1 for r in results if r == []) >= 8
    assert ValueError in results
    assert {timer[0][8] for r in results if isinstance(r, list) for timer in r} == {"", "events", "records"}


TIMERS = [
    Timer("orders-completed/ORD-1", "orders-completed", "anonymize", "orders", "cust-1", "ORD-1",
          ("contact.email", "identity.name"), 1_795_253_400.0 + 7 * 365 * 86_400),
    Timer("logs/log-1", "logs", "delete", "logs", "", "log-1", (), 1_803_029_400.512),
    Timer("pings/p-1", "pings", "delete", "pings", "", "p-1", (), 0.1 + 0.2, "events"),
    Timer("r/ü", "r", "anonymize", "orders", "çust\n\"", "ü", ("a",), 1e16, "events"),
    Timer("r/k", "r", "delete", "tickets", "s", "k", (), 1.5, "records"),
    Timer("r/k", "r", "delete", "tickets", "s", "k", (), 123456789012.25),
]


@pytest.mark.parametrize("timer", TIMERS)
def test_encode_is_the_reference(timer: Timer) -> None:
    assert timer.encode() == reference_encode(timer)
    assert type(timer.encode()) is bytes


def test_encoded_bytes_are_pinned() -> None:
    assert TIMERS[0].encode() == (b'["orders-completed","anonymize","orders","cust-1","ORD-1",'
                                  b'["contact.email","identity.name"],2016005400.0]')
    assert TIMERS[2].encode() == b'["pings","delete","pings","","p-1",[],0.30000000000000004,"events"]'


def test_encoded_timer_is_its_own_size() -> None:
    """orjson's result keeps a 4 KiB buffer (orjson 3.13 still): an encoded timer, held by the index per
    pending timer, is a copy of its own size."""
    timers = [Timer(f"logs/e{n}", "logs", "delete", "logs", "c", f"e{n}", (), 1.5 + n) for n in range(2000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [timer.encode() for timer in timers]
        per_timer = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_timer < 400, per_timer   # about 100 B of JSON; 4,100 B without the copy


@pytest.mark.parametrize("timer", TIMERS)
def test_timer_made_for_the_fast_path_is_a_timer(timer: Timer) -> None:
    made = _timer(*astuple(timer))
    assert type(made) is Timer and made == timer and hash(made) == hash(timer)
    assert [getattr(made, f.name) for f in fields(Timer)] == list(astuple(timer))
    with pytest.raises(AttributeError):   # frozen, as Timer(...) is
        made.due = 0.0  # type: ignore[misc]
