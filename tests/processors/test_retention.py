"""Retention: rules and durations, deadlines per record, lifecycle commands, audit records, legal holds."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import fastavro
import fastavro.validation
import orjson
import pytest
from support import REPO

from processors.errors import InvalidRecord, PolicyError
from processors.inputs import Inputs
from processors.policy import CATEGORIES, load_policy
from processors.records import audit_record, command_audit, command_for, held_audit, hold_audit
from processors.retention.holds import Hold, Holds
from processors.retention.rules import parse_duration, parse_retention
from processors.retention.timers import RetentionPlan, Timer, command_id
from processors.schemas import SchemaCatalog
from processors.time import iso, parse_time

Example = Callable[[str], dict[str, Any]]   # the `example` fixture of conftest.py

decode_hold = Inputs(SchemaCatalog.load(REPO / "schemas")).hold


@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10), ("1.5m", 90), ("12h", 43_200), ("90d", 7_776_000), ("2w", 1_209_600), ("7y", 220_752_000),
    (" 3 d ", 259_200),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["7 years", "", "10", "-5s", "0s", "5x", "y7"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


GOOD: dict[str, Any] = {"family": "orders", "trigger": "order_event", "on": ["completed"], "after": "7y",
                        "action": "anonymize"}


@pytest.mark.parametrize(("change", "message"), [
    ({"family": "invoices"}, ".family = 'invoices'"),
    ({"trigger": "whenever"}, ".trigger = 'whenever'"),
    ({"action": "shred"}, ".action = 'shred'"),
    ({"on": []}, ".on must list order event types"),
    ({"on": [7]}, ".on must list order event types"),
    ({"after": "7 years"}, ".after = '7 years': not a duration"),
    ({"categories": ["contact.fax"]}, ".categories must list data categories"),
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"family": "logs"}, "applies to sources of kind 'records' with a status field only (logs.v1 has none)"),
    ({"source": "logs.v1"}, "applies to sources of kind 'records' with a status field only (logs.v1 has none)"),
    ({"source": "invoices.v1"}, ".source = 'invoices.v1': not a declared source"),
    ({"trigger": "event_time"}, ".on is only for trigger = 'order_event'"),
    ({"action": "delete", "categories": ["contact.email"]}, "applies to action 'anonymize' only"),
])
def test_bad_rules_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_retention({"orders-completed": {**GOOD, **change}}, CATEGORIES, "p.toml")
    assert 'retention."orders-completed"' in str(error.value)
    assert message in str(error.value)


def test_a_good_rule_defaults_to_every_category() -> None:
    rule = parse_retention({"r": GOOD}, CATEGORIES, "p.toml")["r"]
    assert rule.after_seconds == 7 * 365 * 86_400
    assert rule.categories == CATEGORIES and rule.on == ("completed",)


def test_the_default_policy_has_retention_rules() -> None:
    policy = load_policy(REPO / "deploy" / "policy.toml")
    assert {r.action for r in policy.retention.values()} == {"anonymize", "delete"}
    assert policy.retention["logs"].trigger == "event_time"


# --- deadlines: Timer, times, RetentionPlan --------------------------------------------------

PLACED_AT = 1_795_253_400.0          # 2026-11-21T09:30:00Z
YEAR = 365 * 86_400
RULES: dict[str, Any] = {
    "orders-completed": {"family": "orders", "trigger": "order_event", "on": ["completed"], "after": "7y",
                         "action": "anonymize", "categories": ["contact.email", "identity.name"]},
    "orders-cancelled": {"family": "orders", "trigger": "order_event", "on": ["cancelled", "refunded"],
                         "after": "2y", "action": "delete"},
    "logs": {"family": "logs", "trigger": "event_time", "after": "90d", "action": "delete"},
}


def make_plan(rules: dict[str, Any] = RULES) -> RetentionPlan:
    return RetentionPlan(parse_retention(rules, CATEGORIES, "p.toml"))


def order(event_type: str = "completed", **changes: Any) -> dict[str, Any]:
    return {"event_id": "ev-1", "event_type": event_type, "occurred_at": "2026-11-21T09:30:00Z",
            "order_id": "ORD-1", "customer_id": "cust-8841", **changes}


def log_event(**changes: Any) -> dict[str, Any]:
    return {"event_id": "log-1", "occurred_at": "2026-11-21T09:30:00Z", "kind": "page_view",
            "customer_id": "cust-8841", **changes}


def make_timer(**changes: Any) -> Timer:
    base = Timer("orders-completed/ORD-1", "orders-completed", "anonymize", "orders", "cust-8841", "ORD-1",
                 ("contact.email", "identity.name"), PLACED_AT + 7 * YEAR)
    return replace(base, **changes)


ORDER_TIMER = make_timer()
LOG_TIMER = Timer("logs/log-1", "logs", "delete", "logs", "", "log-1", (), PLACED_AT + 90 * 86_400 + 0.512)


@pytest.mark.parametrize("timer", [ORDER_TIMER, LOG_TIMER, make_timer(due=0.1 + 0.2)])
def test_timer_round_trips_through_its_encoding(timer: Timer) -> None:
    decoded = Timer.decode(timer.timer_id, timer.encode())
    assert decoded == timer
    assert type(decoded.categories) is tuple and type(decoded.due) is float


def test_timer_decode_takes_the_id_from_the_key() -> None:
    assert Timer.decode("other/ORD-9", ORDER_TIMER.encode()).timer_id == "other/ORD-9"


@pytest.mark.parametrize(("timer", "order_id"), [(ORDER_TIMER, "ORD-1"), (LOG_TIMER, None),
                                                  (replace(LOG_TIMER, record_key="ORD-1"), None)])
def test_order_id_is_the_record_key_of_orders_only(timer: Timer, order_id: str | None) -> None:
    assert timer.order_id == order_id


@pytest.mark.parametrize(("text", "epoch"), [
    ("2026-11-21T09:30:00Z", PLACED_AT),
    ("2026-11-21T09:30:00+00:00", PLACED_AT),
    ("2026-11-21T11:30:00+02:00", PLACED_AT),
    ("2026-11-21T04:00:00-05:30", PLACED_AT),
    ("2026-11-21T09:30:00", PLACED_AT),                 # naive: UTC
    ("2026-11-21T09:30:00.512Z", PLACED_AT + 0.512),
    ("1970-01-01T00:00:00Z", 0.0),
])
def test_parse_time(text: str, epoch: float) -> None:
    assert parse_time(text) == pytest.approx(epoch, abs=1e-6)


def test_naive_times_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "EST+5")
    time.tzset()
    try:
        assert parse_time("2026-11-21T09:30:00") == PLACED_AT
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01T00:00:00Z", "2026-11-21T25:00:00Z",
                                  "21/11/2026 09:30", None, 1_795_253_400, 1_795_253_400.0, ["2026-11-21T09:30:00Z"]])
def test_parse_time_rejects_what_is_not_a_time(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(("epoch", "text"), [
    (0.0, "1970-01-01T00:00:00Z"),
    (PLACED_AT, "2026-11-21T09:30:00Z"),
    (PLACED_AT + 0.5, "2026-11-21T09:30:00.500000Z"),
    (PLACED_AT + 7 * YEAR, "2033-11-19T09:30:00Z"),
])
def test_iso(epoch: float, text: str) -> None:
    assert iso(epoch) == text
    assert parse_time(text) == epoch


@pytest.mark.parametrize(("event_type", "rules"), [
    ("placed", set()), ("paid", set()), ("shipped", set()),
    ("completed", {"orders-completed"}), ("cancelled", {"orders-cancelled"}), ("refunded", {"orders-cancelled"}),
])
def test_order_event_rules_fire_only_for_their_event_types(event_type: str, rules: set[str]) -> None:
    assert {t.rule for t in make_plan().timers_for("orders", order(event_type))} == rules


def test_a_completed_order_gets_the_anonymize_deadline() -> None:
    assert make_plan().timers_for("orders", order("completed")) == [ORDER_TIMER]


def test_delete_rules_carry_no_categories() -> None:
    [timer] = make_plan().timers_for("orders", order("refunded"))
    assert timer == Timer("orders-cancelled/ORD-1", "orders-cancelled", "delete", "orders", "cust-8841", "ORD-1",
                          (), PLACED_AT + 2 * YEAR)


def test_anonymize_rules_default_to_every_category() -> None:
    plan = make_plan({"r": {**GOOD}})
    [timer] = plan.timers_for("orders", order("completed"))
    assert timer.categories == CATEGORIES


@pytest.mark.parametrize("event_type", ["placed", "paid", "shipped", "completed", "cancelled", "refunded"])
def test_event_time_rules_fire_for_every_order_event(event_type: str) -> None:
    plan = make_plan({"orders-all": {"family": "orders", "trigger": "event_time", "after": "30d",
                                     "action": "anonymize", "categories": ["contact.phone"]}})
    timers = plan.timers_for("orders", order(event_type, occurred_at="2026-11-21T11:30:00+02:00"))
    assert timers == [Timer("orders-all/ORD-1", "orders-all", "anonymize", "orders", "cust-8841", "ORD-1",
                            ("contact.phone",), PLACED_AT + 30 * 86_400)]


def test_a_log_event_gets_its_deadline_from_its_own_time() -> None:
    [timer] = make_plan().timers_for("logs", log_event(occurred_at="2026-11-21T09:30:00.512Z"))
    assert timer == Timer("logs/log-1", "logs", "delete", "logs", "cust-8841", "log-1", (),
                          PLACED_AT + 0.512 + 90 * 86_400)


@pytest.mark.parametrize("record", [log_event(customer_id=None), {k: v for k, v in log_event().items()
                                                                   if k != "customer_id"}])
def test_an_anonymous_log_event_has_no_subject(record: dict[str, Any]) -> None:
    [timer] = make_plan().timers_for("logs", record)
    assert timer.subject == "" and timer.timer_id == "logs/log-1"


def test_the_timer_id_is_per_rule_and_record_not_per_event() -> None:
    plan = make_plan()
    first = plan.timers_for("orders", order("completed"))
    replayed = plan.timers_for("orders", order("completed", event_id="ev-2", occurred_at="2026-11-22T09:30:00Z"))
    other = plan.timers_for("orders", order("completed", order_id="ORD-2"))
    assert [t.timer_id for t in first] == [t.timer_id for t in replayed] == ["orders-completed/ORD-1"]
    assert replayed[0].due == first[0].due + 86_400
    assert [t.timer_id for t in other] == ["orders-completed/ORD-2"]


@pytest.mark.parametrize(("family", "record"), [
    ("orders", {k: v for k, v in order().items() if k != "order_id"}),
    ("orders", order(order_id="")),
    ("orders", order(order_id=None)),
    ("orders", order(order_id=42)),
    ("logs", {k: v for k, v in log_event().items() if k != "event_id"}),
    ("logs", log_event(event_id="")),
])
def test_a_record_without_its_key_gets_no_timers(family: str, record: dict[str, Any]) -> None:
    assert make_plan().timers_for(family, record) == []


@pytest.mark.parametrize(("rules", "family", "record"), [
    ({"r": GOOD}, "logs", log_event()),
    ({"logs": RULES["logs"]}, "orders", order("completed")),
    ({}, "orders", order("completed")),
    (RULES, "consent", {"event_id": "c-1", "customer_id": "cust-8841", "occurred_at": "2026-11-21T09:30:00Z"}),
])
def test_a_family_without_rules_gets_no_timers(rules: dict[str, Any], family: str, record: dict[str, Any]) -> None:
    assert make_plan(rules).timers_for(family, record) == []


@pytest.mark.parametrize(("family", "record"), [
    ("orders", order("completed", occurred_at="last tuesday")),
    ("orders", order("cancelled", occurred_at=None)),
    ("orders", {k: v for k, v in order("completed").items() if k != "occurred_at"}),
    ("logs", log_event(occurred_at="2026-02-30T00:00:00Z")),
])
def test_an_unparsable_time_raises(family: str, record: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_plan().timers_for(family, record)


# --- lifecycle commands ------------------------------------------------------------------------

NOW = PLACED_AT + 8 * YEAR


def load_schema(schema_dir: Path, name: str) -> tuple[Any, list[str]]:
    raw = json.loads((schema_dir / f"{name}.avsc").read_text(encoding="utf-8"))
    return fastavro.parse_schema(raw), [f["name"] for f in raw["fields"]]


def test_command_ids_are_deterministic() -> None:
    first = command_id(ORDER_TIMER)
    assert command_id(make_timer()) == first
    assert command_id(Timer.decode(ORDER_TIMER.timer_id, ORDER_TIMER.encode())) == first
    assert str(uuid.UUID(first)) == first


@pytest.mark.parametrize("changes", [
    {"due": ORDER_TIMER.due + 1}, {"due": ORDER_TIMER.due + 1e-3},
    {"timer_id": "orders-completed/ORD-2"}, {"timer_id": "orders-cancelled/ORD-1"},
])
def test_command_ids_differ_by_timer_and_deadline(changes: dict[str, Any]) -> None:
    assert command_id(make_timer(**changes)) != command_id(ORDER_TIMER)


@pytest.mark.parametrize("timer", [ORDER_TIMER, LOG_TIMER, replace(LOG_TIMER, subject="cust-8841")])
def test_commands_follow_their_schema(schema_dir: Path, timer: Timer) -> None:
    schema, fields = load_schema(schema_dir, "lifecycle.commands.v1")
    command = command_for(timer, NOW)
    assert fastavro.validation.validate(command, schema, raise_errors=True)
    assert list(command) == fields
    assert command == {
        "command_id": command_id(timer), "issued_at": iso(NOW), "action": timer.action, "subject": timer.subject,
        "selector": {"family": timer.family, "record_key": timer.record_key},
        "categories": list(timer.categories), "fields": [], "updates": {},
        "rule": timer.rule, "cause": "retention", "due_at": iso(timer.due), "export_key": None,
    }


def test_a_command_names_its_times_in_rfc_3339() -> None:
    command = command_for(ORDER_TIMER, NOW)
    assert command["issued_at"] == "2034-11-19T09:30:00Z"
    assert command["due_at"] == "2033-11-19T09:30:00Z"
    assert command["categories"] == ["contact.email", "identity.name"]


# --- audit records -------------------------------------------------------------------------------

SUBJECT_HOLD = Hold("hold-1", "place", "cust-8841", None, "LIT-2026-17", "2026-11-21T09:30:00Z")
ORDER_HOLD = Hold("hold-2", "place", "cust-8841", "ORD-1", "LIT-2026-18", "2026-11-21T09:30:00Z")


def assert_valid_audit(schema_dir: Path, audit: dict[str, Any]) -> None:
    schema, fields = load_schema(schema_dir, "privacy.audit.v1")
    assert fastavro.validation.validate(audit, schema, raise_errors=True)
    assert list(audit) == fields
    assert all(type(v) is str for v in audit["details"].values())
    assert str(uuid.UUID(audit["audit_id"])) == audit["audit_id"]


def without_subject(audit: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in audit.items() if k != "subject"})


def test_audit_records_follow_their_schema(schema_dir: Path) -> None:
    audit = audit_record("export", "cust-8841", NOW, "req-1", rule="r", request_id="req-1", details={"n": "3"})
    assert_valid_audit(schema_dir, audit)
    assert audit == {"audit_id": audit["audit_id"], "occurred_at": iso(NOW), "subject": "cust-8841",
                     "action": "export", "rule": "r", "request_id": "req-1", "details": {"n": "3"}}


@pytest.mark.parametrize("subject", ["", None])
def test_an_audit_record_without_a_subject_has_null(schema_dir: Path, subject: str | None) -> None:
    audit = audit_record("dlq", subject, NOW, "x")
    assert_valid_audit(schema_dir, audit)
    assert audit["subject"] is None and audit["rule"] is None and audit["details"] == {}


def test_audit_ids_are_deterministic() -> None:
    first = audit_record("command", "cust-8841", NOW, "id-1")["audit_id"]
    assert audit_record("command", "cust-9999", NOW + 5, "id-1")["audit_id"] == first
    assert audit_record("command", "cust-8841", NOW, "id-2")["audit_id"] != first
    assert audit_record("shred", "cust-8841", NOW, "id-1")["audit_id"] != first


def test_an_audit_record_copies_its_details() -> None:
    details = {"n": "1"}
    audit = audit_record("export", "cust-8841", NOW, "x", details=details)
    details["n"] = "2"
    assert audit["details"] == {"n": "1"}


@pytest.mark.parametrize(("timer", "categories"), [(ORDER_TIMER, "contact.email,identity.name"), (LOG_TIMER, None)])
def test_command_audits(schema_dir: Path, timer: Timer, categories: str | None) -> None:
    command = command_for(timer, NOW)
    audit = command_audit(command, NOW, 12.34567)
    assert_valid_audit(schema_dir, audit)
    assert audit["action"] == "command" and audit["rule"] == timer.rule
    assert audit["subject"] == (timer.subject or None)
    expected = {"command_id": command["command_id"], "command_action": timer.action, "family": timer.family,
                "record_key": timer.record_key, "due_at": iso(timer.due), "lateness_seconds": "12.346"}
    if categories is not None:
        expected["categories"] = categories
    assert audit["details"] == expected
    assert audit["audit_id"] != command["command_id"]
    assert command_audit(command_for(timer, NOW), NOW, 12.34567) == audit
    assert "cust-8841" not in without_subject(audit)


def test_command_audits_differ_per_command() -> None:
    ids = {command_audit(command_for(t, NOW), NOW, 0.0)["audit_id"]
           for t in (ORDER_TIMER, make_timer(due=ORDER_TIMER.due + 1), make_timer(timer_id="orders-completed/ORD-2"))}
    assert len(ids) == 3


@pytest.mark.parametrize(("hold", "details"), [
    (SUBJECT_HOLD, {"hold_id": "hold-1", "case_ref": "LIT-2026-17", "scope": "subject"}),
    (replace(SUBJECT_HOLD, action="release"), {"hold_id": "hold-1", "case_ref": "LIT-2026-17", "scope": "subject"}),
    (ORDER_HOLD, {"hold_id": "hold-2", "case_ref": "LIT-2026-18", "scope": "order", "order_id": "ORD-1"}),
])
def test_hold_audits(schema_dir: Path, hold: Hold, details: dict[str, str]) -> None:
    audit = hold_audit(hold, NOW)
    assert_valid_audit(schema_dir, audit)
    assert audit["action"] == f"hold_{hold.action}" and audit["rule"] == "legal-hold"
    assert audit["subject"] == "cust-8841" and audit["details"] == details
    assert audit["occurred_at"] == iso(NOW)
    assert "cust-8841" not in without_subject(audit)
    assert hold_audit(hold, NOW + 60)["audit_id"] == audit["audit_id"]


def test_placing_and_releasing_a_hold_are_audited_apart() -> None:
    ids = {hold_audit(h, NOW)["audit_id"] for h in (SUBJECT_HOLD, replace(SUBJECT_HOLD, action="release"),
                                                    replace(SUBJECT_HOLD, hold_id="hold-9"))}
    assert len(ids) == 3


@pytest.mark.parametrize(("timer", "holds", "hold_ids"), [
    (ORDER_TIMER, [SUBJECT_HOLD], "hold-1"),
    (ORDER_TIMER, [ORDER_HOLD, SUBJECT_HOLD], "hold-1,hold-2"),
    (replace(LOG_TIMER, subject="cust-8841"), [SUBJECT_HOLD], "hold-1"),
])
def test_held_audits(schema_dir: Path, timer: Timer, holds: list[Hold], hold_ids: str) -> None:
    audit = held_audit(timer, holds, NOW)
    assert_valid_audit(schema_dir, audit)
    assert audit["action"] == "suspended" and audit["rule"] == timer.rule and audit["subject"] == "cust-8841"
    assert audit["details"] == {"timer": timer.timer_id, "due_at": iso(timer.due), "command_action": timer.action,
                                "hold_ids": hold_ids}
    assert "cust-8841" not in without_subject(audit)
    assert held_audit(timer, holds, NOW + 60)["audit_id"] == audit["audit_id"]
    assert held_audit(replace(timer, due=timer.due + 1), holds, NOW)["audit_id"] != audit["audit_id"]


# --- legal holds -----------------------------------------------------------------------------------

def hold_event(**changes: Any) -> dict[str, Any]:
    return {"hold_id": "hold-1", "action": "place", "occurred_at": "2026-11-21T09:30:00Z",
            "customer_id": "cust-8841", "order_id": None, "case_ref": "LIT-2026-17", **changes}


def drop(event: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != name}


def test_the_example_hold_parses(example: Example) -> None:
    assert decode_hold(orjson.dumps(example("legal-holds.v1"))) == Hold(
        "hold-2026-0042", "place", "cust-8841", None, "LIT-2026-17", "2026-11-21T09:30:00Z")


@pytest.mark.parametrize(("event", "hold"), [
    (hold_event(action="release", order_id="ORD-1"), replace(SUBJECT_HOLD, action="release", order_id="ORD-1")),
    (drop(hold_event(), "order_id"), SUBJECT_HOLD),
    (hold_event(occurred_at="2026-11-21T11:30:00+02:00"),
     replace(SUBJECT_HOLD, occurred_at="2026-11-21T11:30:00+02:00")),
])
def test_holds_parse(event: dict[str, Any], hold: Hold) -> None:
    assert decode_hold(orjson.dumps(event)) == hold


SECRET = "cust-SECRET-77"
TIMESTAMP = "format.timestamp"   # the rule of a time that is not RFC 3339 with an offset, years 1970-2999


@pytest.mark.parametrize(("raw", "rule", "path"), [
    (b"{not json " + SECRET.encode(), "json", ""),
    (b"", "json", ""),
    (None, "empty", ""),
    (b'{"hold_id": "\xff\xfe' + SECRET.encode() + b'"}', "utf8", ""),
    (orjson.dumps([hold_event(customer_id=SECRET)]), "type", ""),
    (orjson.dumps(SECRET), "type", ""),
    (b"null", "type", ""),
    (orjson.dumps(drop(hold_event(customer_id=SECRET), "hold_id")), "required", "hold_id"),
    (orjson.dumps(hold_event(hold_id="", customer_id=SECRET)), "min_length", "hold_id"),
    (orjson.dumps(hold_event(hold_id=[SECRET])), "type", "hold_id"),
    (orjson.dumps(drop(hold_event(), "customer_id")), "required", "customer_id"),
    (orjson.dumps(hold_event(customer_id={"id": SECRET})), "type", "customer_id"),
    (orjson.dumps(drop(hold_event(customer_id=SECRET), "case_ref")), "required", "case_ref"),
    (orjson.dumps(hold_event(case_ref=None, customer_id=SECRET)), "type", "case_ref"),
    (orjson.dumps(drop(hold_event(customer_id=SECRET), "occurred_at")), "required", "occurred_at"),
    (orjson.dumps(hold_event(action=SECRET)), "enum", "action"),
    (orjson.dumps(drop(hold_event(customer_id=SECRET), "action")), "required", "action"),
    (orjson.dumps(hold_event(action="PLACE", customer_id=SECRET)), "enum", "action"),
    (orjson.dumps(hold_event(order_id=7_700_777, customer_id=SECRET)), "type", "order_id"),
    (orjson.dumps(hold_event(order_id="", customer_id=SECRET)), "min_length", "order_id"),
    (orjson.dumps(hold_event(order_id=[SECRET])), "type", "order_id"),
    (orjson.dumps(hold_event(occurred_at=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(hold_event(occurred_at="2026-02-30T00:00:00Z", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
])
def test_bad_holds_are_named_without_their_values(raw: bytes | None, rule: str, path: str) -> None:
    with pytest.raises(InvalidRecord) as error:
        decode_hold(raw)
    assert (error.value.rule, error.value.path) == (rule, path)
    for text in (str(error.value), error.value.reason, error.value.path):
        for value in (SECRET, "7700777", "2026-02-30", "cust-8841", "LIT-2026-17", "hold-1"):
            assert value not in text


def release(hold: Hold, **changes: Any) -> Hold:
    return replace(hold, action="release", **changes)


def test_a_hold_is_placed_and_released() -> None:
    holds = Holds()
    assert holds.holding(ORDER_TIMER) is False
    assert holds.apply(SUBJECT_HOLD) is True
    assert holds.holding(ORDER_TIMER) is True
    assert holds.apply(release(SUBJECT_HOLD)) is True
    assert holds.holding(ORDER_TIMER) is False
    assert holds.for_subject("cust-8841") == []
    assert holds.apply(release(SUBJECT_HOLD)) is False


def test_a_replayed_place_changes_nothing() -> None:
    holds = Holds()
    assert holds.apply(SUBJECT_HOLD) is True
    assert holds.apply(SUBJECT_HOLD) is False
    assert holds.apply(replace(SUBJECT_HOLD, case_ref="LIT-OTHER")) is False
    assert holds.for_subject("cust-8841") == [SUBJECT_HOLD]
    assert holds.apply(release(SUBJECT_HOLD)) is True
    assert holds.holding(ORDER_TIMER) is False     # one release undoes the one placement


def test_releasing_an_unknown_hold_changes_nothing() -> None:
    holds = Holds()
    holds.apply(SUBJECT_HOLD)
    assert holds.apply(release(SUBJECT_HOLD, hold_id="hold-404")) is False
    assert holds.holding(ORDER_TIMER) is True
    assert holds.for_subject("cust-8841") == [SUBJECT_HOLD]


@pytest.mark.parametrize(("timer", "held"), [
    (ORDER_TIMER, True),
    (make_timer(timer_id="orders-cancelled/ORD-2", rule="orders-cancelled", record_key="ORD-2"), True),
    (replace(LOG_TIMER, subject="cust-8841"), True),
    (make_timer(subject="cust-9999", record_key="ORD-9"), False),
    (replace(LOG_TIMER, subject="cust-9999"), False),
    (LOG_TIMER, False),                                     # anonymous log event
])
def test_a_subject_hold_covers_every_timer_of_the_subject(timer: Timer, held: bool) -> None:
    holds = Holds()
    holds.apply(SUBJECT_HOLD)
    assert holds.holding(timer) is held


@pytest.mark.parametrize(("timer", "held"), [
    (ORDER_TIMER, True),
    (make_timer(timer_id="orders-cancelled/ORD-1", rule="orders-cancelled", action="delete", categories=()), True),
    (make_timer(timer_id="orders-completed/ORD-2", record_key="ORD-2"), False),
    (replace(LOG_TIMER, subject="cust-8841"), False),
    (replace(LOG_TIMER, subject="cust-8841", record_key="ORD-1", timer_id="logs/ORD-1"), False),
])
def test_an_order_hold_covers_only_that_order(timer: Timer, held: bool) -> None:
    holds = Holds()
    holds.apply(ORDER_HOLD)
    assert holds.holding(timer) is held


def test_an_order_hold_is_released_by_its_id_alone() -> None:
    holds = Holds()
    holds.apply(ORDER_HOLD)
    assert holds.apply(release(ORDER_HOLD, order_id=None)) is True
    assert holds.holding(ORDER_TIMER) is False


def test_a_subject_stays_held_until_its_last_hold_is_released() -> None:
    holds = Holds()
    second = replace(SUBJECT_HOLD, hold_id="hold-3", case_ref="LIT-2026-19")
    assert holds.apply(SUBJECT_HOLD) and holds.apply(second)
    assert holds.apply(release(SUBJECT_HOLD)) is True
    assert holds.holding(ORDER_TIMER) is True
    assert holds.apply(release(second)) is True
    assert holds.holding(ORDER_TIMER) is False


def test_an_order_stays_held_under_its_own_hold_when_the_subject_hold_ends() -> None:
    holds = Holds()
    holds.apply(SUBJECT_HOLD)
    holds.apply(ORDER_HOLD)
    other_order = make_timer(timer_id="orders-completed/ORD-2", record_key="ORD-2")
    assert holds.holding(other_order) is True
    holds.apply(release(SUBJECT_HOLD))
    assert holds.holding(ORDER_TIMER) is True
    assert holds.holding(other_order) is False


def test_for_subject_lists_the_subjects_holds_in_force() -> None:
    holds = Holds()
    other = Hold("hold-5", "place", "cust-9999", None, "LIT-2026-20", "2026-11-21T09:30:00Z")
    for hold in (SUBJECT_HOLD, ORDER_HOLD, other):
        holds.apply(hold)
    assert holds.for_subject("cust-8841") == [SUBJECT_HOLD, ORDER_HOLD]
    assert holds.for_subject("cust-9999") == [other]
    assert holds.for_subject("cust-0000") == []
    holds.apply(release(ORDER_HOLD))
    assert holds.for_subject("cust-8841") == [SUBJECT_HOLD]


@pytest.mark.parametrize("occurred_at", ["2026-11-21", "2026-11-21T09:30:00", "2026-W47-6", "20261121T093000"])
def test_a_hold_time_must_be_rfc_3339_with_an_offset(occurred_at: str) -> None:
    with pytest.raises(InvalidRecord) as error:
        decode_hold(orjson.dumps(hold_event(occurred_at=occurred_at)))
    assert (error.value.rule, error.value.path) == ("format.timestamp", "occurred_at")


def test_a_second_suspension_under_another_hold_is_a_new_audit_entry() -> None:
    first = held_audit(ORDER_TIMER, [SUBJECT_HOLD], NOW)
    second = held_audit(ORDER_TIMER, [replace(SUBJECT_HOLD, hold_id="hold-other")], NOW)
    assert first["audit_id"] != second["audit_id"]
    assert held_audit(ORDER_TIMER, [SUBJECT_HOLD], NOW + 5)["audit_id"] == first["audit_id"]
