"""Data-subject requests: the [rights] policy section, deadlines, request events, commands, state and audit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import fastavro.validation
import orjson
import pytest

from processors.errors import InvalidRecord, PolicyError
from processors.inputs import Inputs
from processors.policy import Policy
from processors.retention.timers import FAMILIES
from processors.rights import (
    CHANNELS,
    REQUEST_TYPES,
    Request,
    Rights,
    due_date,
    erase_commands,
    new_state,
    parse_rights,
    request_audit,
    waiting_for,
    withdrawal_commands,
)
from processors.schemas import SchemaCatalog, default_schema_dir
from processors.time import iso, parse_time

Example = Callable[[str], dict[str, Any]]   # the `example` fixture of conftest.py

decode_request = Inputs(SchemaCatalog.load(default_schema_dir())).request


# --- the [rights] section ----------------------------------------------------------------------------

def test_an_empty_section_gives_the_defaults() -> None:
    rights = parse_rights({}, "p.toml")
    assert rights == Rights()
    assert (rights.stores, rights.deadline_days, rights.business_days, rights.ack_timeout_s) == (
        ("shop-db",), 20, True, 60.0)


def test_a_full_section_is_read() -> None:
    raw = {"stores": ["shop-db", "crm.eu:1", "shop-db", "warehouse_2"], "deadline_days": 30,
           "business_days": False, "ack_timeout": "5m"}
    assert parse_rights(raw, "p.toml") == Rights(("shop-db", "crm.eu:1", "warehouse_2"), 30, False, 300.0)


@pytest.mark.parametrize(("raw", "rights"), [
    ({"deadline_days": 1}, Rights(deadline_days=1)),
    ({"deadline_days": 366}, Rights(deadline_days=366)),
    ({"stores": ["s" * 128]}, Rights(stores=("s" * 128,))),
    ({"ack_timeout": "1.5h"}, Rights(ack_timeout_s=5400.0)),
    ({"business_days": False}, Rights(business_days=False)),
])
def test_edge_values_are_accepted(raw: dict[str, Any], rights: Rights) -> None:
    assert parse_rights(raw, "p.toml") == rights


@pytest.mark.parametrize(("raw", "message"), [
    ("rights", "[rights] must be a table"),
    (["shop-db"], "[rights] must be a table"),
    ({"colour": "red"}, "[rights]: unknown key(s) colour"),
    ({"store": ["shop-db"], "deadline": 5}, "[rights]: unknown key(s) deadline, store"),
    ({"stores": []}, "rights.stores must list the store agents' names"),
    ({"stores": "shop-db"}, "rights.stores must list the store agents' names"),
    ({"stores": [1]}, "rights.stores must list the store agents' names"),
    ({"stores": [""]}, "rights.stores must list the store agents' names"),
    ({"stores": ["shop db"]}, "rights.stores must list the store agents' names"),
    ({"stores": ["shop|db"]}, "rights.stores must list the store agents' names"),
    ({"stores": ["shop-db", "crm/eu"]}, "rights.stores must list the store agents' names"),
    ({"stores": ["s" * 129]}, "rights.stores must list the store agents' names"),
    ({"stores": {"shop-db": 1}}, "rights.stores must list the store agents' names"),
    ({"deadline_days": 0}, "rights.deadline_days = 0: use a whole number of days from 1 to 366"),
    ({"deadline_days": 367}, "rights.deadline_days = 367: use a whole number"),
    ({"deadline_days": -20}, "rights.deadline_days = -20: use a whole number"),
    ({"deadline_days": "20"}, "rights.deadline_days = '20': use a whole number"),
    ({"deadline_days": 2.5}, "rights.deadline_days = 2.5: use a whole number"),
    ({"deadline_days": 20.0}, "rights.deadline_days = 20.0: use a whole number"),
    ({"deadline_days": True}, "rights.deadline_days = True: use a whole number"),
    ({"business_days": "true"}, "rights.business_days must be true or false"),
    ({"business_days": 1}, "rights.business_days must be true or false"),
    ({"business_days": None}, "rights.business_days must be true or false"),
    ({"ack_timeout": "soon"}, "rights.ack_timeout = 'soon': not a duration"),
    ({"ack_timeout": ""}, "rights.ack_timeout = '': not a duration"),
    ({"ack_timeout": 60}, "rights.ack_timeout = 60: not a duration"),
    ({"ack_timeout": "0s"}, "rights.ack_timeout = '0s': must be longer than zero"),
    ({"ack_timeout": "-5s"}, "rights.ack_timeout = '-5s': not a duration"),
])
def test_bad_sections_are_named(raw: Any, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_rights(raw, "p.toml")
    assert str(error.value).startswith("policy p.toml: ")
    assert message in str(error.value)


def test_a_store_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"rights\.stores"):
        parse_rights({"stores": ["shop-db\n"]}, "p.toml")


def test_the_default_policy_has_rights(default_policy: Policy) -> None:
    assert default_policy.rights == Rights(("shop-db",), 20, True, 60.0)


# --- due dates -----------------------------------------------------------------------------------------

def at(text: str) -> float:
    return parse_time(text)


CALENDAR = Rights(business_days=False)


@pytest.mark.parametrize(("received", "days", "due"), [
    ("2026-11-23T09:15:00Z", 20, "2026-12-13T09:15:00Z"),   # Monday + 20 calendar days: a Sunday
    ("2026-11-20T10:00:00Z", 1, "2026-11-21T10:00:00Z"),    # Friday + 1: Saturday
    ("2026-12-20T23:59:59Z", 20, "2027-01-09T23:59:59Z"),
    ("2028-02-20T00:00:00Z", 10, "2028-03-01T00:00:00Z"),   # a leap year
    ("2026-11-20T10:00:00.250000Z", 366, "2027-11-21T10:00:00.250000Z"),
])
def test_due_dates_in_calendar_days(received: str, days: int, due: str) -> None:
    assert iso(due_date(at(received), replace(CALENDAR, deadline_days=days))) == due


@pytest.mark.parametrize(("received", "days", "due"), [
    ("2026-11-20T10:00:00Z", 1, "2026-11-23T10:00:00Z"),    # Friday + 1 business day: Monday
    ("2026-11-23T09:15:00Z", 20, "2026-12-21T09:15:00Z"),   # Monday + 20 business days: 28 calendar days
    ("2026-11-21T09:15:00Z", 1, "2026-11-23T09:15:00Z"),    # Saturday + 1: Monday
    ("2026-11-21T09:15:00Z", 5, "2026-11-27T09:15:00Z"),    # Saturday + 5: Friday
    ("2026-11-21T09:15:00Z", 20, "2026-12-18T09:15:00Z"),
    ("2026-11-22T23:00:00Z", 1, "2026-11-23T23:00:00Z"),    # Sunday + 1: Monday
    ("2026-11-19T08:00:00Z", 1, "2026-11-20T08:00:00Z"),    # Thursday + 1: Friday
    ("2026-11-20T10:00:00Z", 5, "2026-11-27T10:00:00Z"),    # Friday + 5: Friday
    ("2026-11-23T09:15:00Z", 5, "2026-11-30T09:15:00Z"),    # Monday + 5: Monday
    ("2026-11-20T10:00:00.250000Z", 1, "2026-11-23T10:00:00.250000Z"),
    ("2026-12-24T12:00:00Z", 3, "2026-12-29T12:00:00Z"),    # holidays are not skipped, weekends are
])
def test_due_dates_in_business_days(received: str, days: int, due: str) -> None:
    assert iso(due_date(at(received), Rights(deadline_days=days))) == due


def test_the_default_deadline_is_20_business_days() -> None:
    assert iso(due_date(at("2026-11-23T09:15:00Z"), Rights())) == "2026-12-21T09:15:00Z"


@pytest.mark.parametrize("start", [f"2026-11-{day}T13:45:30Z" for day in range(16, 23)])   # Monday to Sunday
@pytest.mark.parametrize("days", [1, 2, 4, 5, 6, 9, 10, 11, 20, 23, 366])
def test_business_days_skip_weekends_exactly(start: str, days: int) -> None:
    received = at(start)
    due = due_date(received, Rights(deadline_days=days))
    moment, end = datetime.fromtimestamp(received, UTC), datetime.fromtimestamp(due, UTC)
    assert end.weekday() < 5
    assert end.time() == moment.time()
    assert (end - moment).total_seconds() % 86_400 == 0
    weekdays = sum(1 for n in range(1, (end - moment).days + 1)
                   if datetime.fromtimestamp(received + n * 86_400, UTC).weekday() < 5)
    assert weekdays == days


# --- requests ------------------------------------------------------------------------------------------

EXAMPLE_REQUEST = Request(
    "req-2026-11-000042", "erase", "cust-8841", "2026-11-21T09:15:00Z", "help_center",
    {"message": "Please delete my account and all my order history. Contact me at alice@example.com when done."})


def test_the_example_request_parses(example: Example) -> None:
    request = decode_request(orjson.dumps(example("privacy-requests.v1")))
    assert request == EXAMPLE_REQUEST
    assert request.received == at("2026-11-21T09:15:00Z")


def request_json(**changes: Any) -> dict[str, Any]:
    return {"request_id": "req-1", "occurred_at": "2026-11-21T09:15:00Z", "customer_id": "cust-8841",
            "type": "erase", "details": {}, "channel": "api", **changes}


def drop(event: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != name}


BASE_REQUEST = Request("req-1", "erase", "cust-8841", "2026-11-21T09:15:00Z", "api", {})


@pytest.mark.parametrize(("event", "expected"), [
    (request_json(), BASE_REQUEST),
    (drop(request_json(), "details"), BASE_REQUEST),
    (request_json(details={"purpose": "marketing", "note": ""}),
     replace(BASE_REQUEST, details={"purpose": "marketing", "note": ""})),
    (request_json(request_id="a"), replace(BASE_REQUEST, request_id="a")),
    (request_json(request_id="R.1:2_3-4"), replace(BASE_REQUEST, request_id="R.1:2_3-4")),
    (request_json(request_id="x" * 128), replace(BASE_REQUEST, request_id="x" * 128)),
    (request_json(occurred_at="2026-11-21T11:15:00+02:00"),
     replace(BASE_REQUEST, occurred_at="2026-11-21T11:15:00+02:00")),
    (request_json(occurred_at="2026-11-21T09:15:00.5-03:00"),
     replace(BASE_REQUEST, occurred_at="2026-11-21T09:15:00.5-03:00")),
    *((request_json(type=t), replace(BASE_REQUEST, type=t)) for t in REQUEST_TYPES),
    *((request_json(channel=c), replace(BASE_REQUEST, channel=c)) for c in CHANNELS),
])
def test_requests_parse(event: dict[str, Any], expected: Request) -> None:
    assert decode_request(orjson.dumps(event)) == expected


def test_a_request_knows_when_it_was_received() -> None:
    request = decode_request(orjson.dumps(request_json(occurred_at="2026-11-21T11:15:00+02:00")))
    assert request.received == at("2026-11-21T09:15:00Z")


def test_the_details_are_copied() -> None:
    details = {"purpose": "marketing"}
    request = Request("req-1", "withdraw_consent", "cust-8841", "2026-11-21T09:15:00Z", "api", details)
    parsed = decode_request(orjson.dumps(request_json(type="withdraw_consent", details=details)))
    assert parsed == request and parsed.details is not details


SECRET = "cust-SECRET-77"
TIMESTAMP = "format.timestamp"   # the rule of a time that is not RFC 3339 with an offset, years 1970-2999
VALUES = (SECRET, "7700777", "2026-02-30", "cust-8841", "req-1", "2026-11-21T09", "ERASE", "alice@example.com")


@pytest.mark.parametrize(("raw", "rule", "path"), [
    (b"{not json " + SECRET.encode(), "json", ""),
    (b"", "json", ""),
    (None, "empty", ""),
    (b'{"request_id": "\xff\xfe' + SECRET.encode() + b'"}', "utf8", ""),
    (orjson.dumps([request_json(customer_id=SECRET)]), "type", ""),
    (orjson.dumps(SECRET), "type", ""),
    (b"null", "type", ""),
    (b"7700777", "type", ""),
    (orjson.dumps(drop(request_json(customer_id=SECRET), "request_id")), "required", "request_id"),
    (orjson.dumps(request_json(request_id="", customer_id=SECRET)), "min_length", "request_id"),
    (orjson.dumps(request_json(request_id=7_700_777)), "type", "request_id"),
    (orjson.dumps(request_json(request_id=[SECRET])), "type", "request_id"),
    (orjson.dumps(drop(request_json(), "customer_id")), "required", "customer_id"),
    (orjson.dumps(request_json(customer_id="")), "min_length", "customer_id"),
    (orjson.dumps(request_json(customer_id={"id": SECRET})), "type", "customer_id"),
    (orjson.dumps(request_json(customer_id=7_700_777)), "type", "customer_id"),
    (orjson.dumps(drop(request_json(customer_id=SECRET), "occurred_at")), "required", "occurred_at"),
    (orjson.dumps(request_json(occurred_at=None, customer_id=SECRET)), "type", "occurred_at"),
    (orjson.dumps(request_json(occurred_at=7_700_777)), "type", "occurred_at"),
    (orjson.dumps(request_json(request_id=f"{SECRET} x")), "format.identifier", "request_id"),
    (orjson.dumps(request_json(request_id=f"{SECRET}/x")), "format.identifier", "request_id"),
    (orjson.dumps(request_json(request_id=f"{SECRET}|x")), "format.identifier", "request_id"),
    (orjson.dumps(request_json(request_id=f"{SECRET}é")), "format.identifier", "request_id"),
    (orjson.dumps(request_json(request_id=SECRET + "x" * 128)), "format.identifier", "request_id"),
    (orjson.dumps(request_json(type=SECRET)), "enum", "type"),
    (orjson.dumps(drop(request_json(customer_id=SECRET), "type")), "required", "type"),
    (orjson.dumps(request_json(type="ERASE", customer_id=SECRET)), "enum", "type"),
    (orjson.dumps(request_json(type=[SECRET])), "type", "type"),
    (orjson.dumps(request_json(channel=SECRET)), "enum", "channel"),
    (orjson.dumps(drop(request_json(customer_id=SECRET), "channel")), "required", "channel"),
    (orjson.dumps(request_json(channel=None, customer_id=SECRET)), "type", "channel"),
    (orjson.dumps(request_json(details=None, customer_id=SECRET)), "type", "details"),
    (orjson.dumps(request_json(details=SECRET)), "type", "details"),
    (orjson.dumps(request_json(details=[SECRET])), "type", "details"),
    (orjson.dumps(request_json(details={"phone": 7_700_777})), "type", "details[*]"),
    (orjson.dumps(request_json(details={"message": "alice@example.com", "n": None})), "type", "details[*]"),
    (orjson.dumps(request_json(details={"nested": {"email": SECRET}})), "type", "details[*]"),
    (orjson.dumps(request_json(details={"list": [SECRET]})), "type", "details[*]"),
    (orjson.dumps(request_json(occurred_at=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(request_json(occurred_at="2026-11-21T09:15:00", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(request_json(occurred_at="2026-11-21", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(request_json(occurred_at="2026-11-21T09:15:00+0200", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(request_json(occurred_at="2026-11-21T09:15Z", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(request_json(occurred_at="2026-02-30T00:00:00Z", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(request_json(occurred_at="2026-11-21T09:15:00+25:00", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
])
def test_bad_requests_are_named_without_their_values(raw: bytes | None, rule: str, path: str) -> None:
    with pytest.raises(InvalidRecord) as error:
        decode_request(raw)
    assert (error.value.rule, error.value.path) == (rule, path)
    for text in (str(error.value), error.value.reason, error.value.path):
        for value in VALUES:
            assert value not in text


def test_a_request_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidRecord) as error:
        decode_request(orjson.dumps(request_json(request_id="req-1\n")))
    assert (error.value.rule, error.value.path) == ("format.identifier", "request_id")


@pytest.mark.parametrize("occurred_at", ["9999-12-31T12:00:00Z", "0001-01-01T00:00:00+01:00"])
def test_a_request_at_the_edge_of_time_is_refused_or_tracked(occurred_at: str) -> None:
    try:
        request = decode_request(orjson.dumps(request_json(occurred_at=occurred_at)))
    except InvalidRecord as error:
        assert (error.rule, error.path) == ("format.timestamp", "occurred_at")
        return
    assert new_state(request, Rights(), NOW)["status"] == "received"


# --- commands ------------------------------------------------------------------------------------------

NOW = at("2026-11-21T09:15:02.5Z")
DUE = due_date(EXAMPLE_REQUEST.received, Rights())


def load_schema(schema_dir: Path, name: str) -> tuple[Any, list[str]]:
    raw = json.loads((schema_dir / f"{name}.avsc").read_text(encoding="utf-8"))
    return fastavro.parse_schema(raw), [f["name"] for f in raw["fields"]]


def assert_valid_commands(schema_dir: Path, commands: list[dict[str, Any]]) -> None:
    schema, fields = load_schema(schema_dir, "lifecycle.commands.v1")
    for command in commands:
        assert fastavro.validation.validate(command, schema, raise_errors=True)
        assert list(command) == fields
        assert str(uuid.UUID(command["command_id"])) == command["command_id"]


def test_an_erasure_is_one_delete_command_per_family(schema_dir: Path) -> None:
    commands = erase_commands(EXAMPLE_REQUEST, NOW, DUE)
    assert_valid_commands(schema_dir, commands)
    assert [c["selector"]["family"] for c in commands] == list(FAMILIES) == ["orders", "logs"]
    for command in commands:
        assert command == {
            "command_id": command["command_id"], "issued_at": "2026-11-21T09:15:02.500000Z", "action": "delete",
            "subject": "cust-8841", "selector": {"family": command["selector"]["family"], "record_key": None},
            "categories": [], "fields": [], "updates": {}, "rule": "req-2026-11-000042", "cause": "request",
            "due_at": "2026-12-18T09:15:00Z", "export_key": None,
        }


@pytest.mark.parametrize("categories", [("location.precise",), ["behavior.browsing", "behavior.click"]])
def test_a_withdrawal_is_one_anonymize_command_per_family(schema_dir: Path, categories: Any) -> None:
    request = replace(EXAMPLE_REQUEST, type="withdraw_consent", details={"purpose": "location"})
    commands = withdrawal_commands(request, "location", categories, NOW, DUE)
    assert_valid_commands(schema_dir, commands)
    assert [c["selector"]["family"] for c in commands] == ["orders", "logs"]
    for command in commands:
        assert command == {
            "command_id": command["command_id"], "issued_at": iso(NOW), "action": "anonymize",
            "subject": "cust-8841", "selector": {"family": command["selector"]["family"], "record_key": None},
            "categories": list(categories), "fields": [], "updates": {}, "rule": "req-2026-11-000042",
            "cause": "request", "due_at": iso(DUE), "export_key": None,
        }


def ids(commands: list[dict[str, Any]]) -> list[str]:
    return [c["command_id"] for c in commands]


def test_command_ids_are_deterministic() -> None:
    erase = ids(erase_commands(EXAMPLE_REQUEST, NOW, DUE))
    assert len(set(erase)) == len(FAMILIES)
    assert ids(erase_commands(EXAMPLE_REQUEST, NOW + 3600, DUE + 86_400)) == erase     # a replay: same commands
    assert ids(erase_commands(replace(EXAMPLE_REQUEST, details={}), NOW, DUE)) == erase
    withdrawal = ids(withdrawal_commands(EXAMPLE_REQUEST, "location", ("location.precise",), NOW, DUE))
    assert len(set(withdrawal)) == len(FAMILIES)
    assert ids(withdrawal_commands(EXAMPLE_REQUEST, "location", ["behavior.click"], NOW + 60, DUE)) == withdrawal


def test_command_ids_differ_between_requests_actions_and_purposes() -> None:
    other = replace(EXAMPLE_REQUEST, request_id="req-2026-11-000043")
    sets = [
        ids(erase_commands(EXAMPLE_REQUEST, NOW, DUE)),
        ids(erase_commands(other, NOW, DUE)),
        ids(withdrawal_commands(EXAMPLE_REQUEST, "location", ("location.precise",), NOW, DUE)),
        ids(withdrawal_commands(EXAMPLE_REQUEST, "cookies_analytics", ("behavior.click",), NOW, DUE)),
        ids(withdrawal_commands(other, "location", ("location.precise",), NOW, DUE)),
    ]
    everything = [command_id for group in sets for command_id in group]
    assert len(set(everything)) == len(everything) == 5 * len(FAMILIES)


# --- request state -------------------------------------------------------------------------------------

def test_a_new_request_state(default_policy: Policy) -> None:
    state = new_state(EXAMPLE_REQUEST, default_policy.rights, NOW)
    assert state == {
        "request_id": "req-2026-11-000042", "type": "erase", "subject": "cust-8841", "channel": "help_center",
        "status": "received", "received_at": "2026-11-21T09:15:00Z", "due_at": "2026-12-18T09:15:00Z",
        "accepted_at": "2026-11-21T09:15:02.500000Z", "commands": {}, "stores": ["shop-db"], "acks": {},
        "sent_at": None, "retries": 0, "completed_at": None, "reason": None, "export": None, "outputs": None,
    }
    assert orjson.loads(orjson.dumps(state)) == state           # the state is stored as JSON
    assert "alice@example.com" not in orjson.dumps(state).decode()   # the free-text details are not kept


@pytest.mark.parametrize(("rights", "due"), [
    (Rights(), "2026-12-18T09:15:00Z"),
    (Rights(business_days=False), "2026-12-11T09:15:00Z"),
    (Rights(deadline_days=1), "2026-11-23T09:15:00Z"),
    (Rights(deadline_days=30, business_days=False), "2026-12-21T09:15:00Z"),
])
def test_the_due_date_follows_the_rights(rights: Rights, due: str) -> None:
    assert new_state(EXAMPLE_REQUEST, rights, NOW)["due_at"] == due


def test_the_due_date_counts_from_the_request_time_not_its_arrival() -> None:
    late = new_state(EXAMPLE_REQUEST, Rights(), NOW + 10 * 86_400)
    assert late["due_at"] == "2026-12-18T09:15:00Z"
    assert late["accepted_at"] == iso(NOW + 10 * 86_400)


def tracked(stores: tuple[str, ...] = ("shop-db", "crm"), acks: dict[str, str] | None = None) -> dict[str, Any]:
    state = new_state(EXAMPLE_REQUEST, Rights(stores=stores), NOW)
    state["commands"] = {c["command_id"]: c["selector"]["family"] for c in erase_commands(EXAMPLE_REQUEST, NOW, DUE)}
    state["acks"] = acks or {}
    return state


ORDERS_CMD, LOGS_CMD = ids(erase_commands(EXAMPLE_REQUEST, NOW, DUE))


def test_a_request_without_commands_waits_for_nothing() -> None:
    assert waiting_for(new_state(EXAMPLE_REQUEST, Rights(stores=("shop-db", "crm")), NOW)) == []


def test_nothing_acked_waits_for_every_command_and_store() -> None:
    assert waiting_for(tracked()) == [(ORDERS_CMD, "shop-db"), (ORDERS_CMD, "crm"),
                                      (LOGS_CMD, "shop-db"), (LOGS_CMD, "crm")]


@pytest.mark.parametrize(("acks", "waiting"), [
    ({f"{ORDERS_CMD}|shop-db": "applied"}, [(ORDERS_CMD, "crm"), (LOGS_CMD, "shop-db"), (LOGS_CMD, "crm")]),
    ({f"{ORDERS_CMD}|shop-db": "not_found"}, [(ORDERS_CMD, "crm"), (LOGS_CMD, "shop-db"), (LOGS_CMD, "crm")]),
    ({f"{ORDERS_CMD}|shop-db": "failed"},
     [(ORDERS_CMD, "shop-db"), (ORDERS_CMD, "crm"), (LOGS_CMD, "shop-db"), (LOGS_CMD, "crm")]),
    ({f"{ORDERS_CMD}|shop-db": "applied", f"{ORDERS_CMD}|crm": "not_found", f"{LOGS_CMD}|shop-db": "applied",
      f"{LOGS_CMD}|crm": "failed"}, [(LOGS_CMD, "crm")]),
    ({f"{ORDERS_CMD}|shop-db": "applied", f"{ORDERS_CMD}|crm": "not_found", f"{LOGS_CMD}|shop-db": "applied",
      f"{LOGS_CMD}|crm": "applied"}, []),
    ({f"{ORDERS_CMD}|warehouse": "applied", "other-command|crm": "applied", f"{LOGS_CMD}|shop-db": "applied"},
     [(ORDERS_CMD, "shop-db"), (ORDERS_CMD, "crm"), (LOGS_CMD, "crm")]),
    ({f"{ORDERS_CMD}|shop-db": "APPLIED", f"{ORDERS_CMD}|crm": ""},
     [(ORDERS_CMD, "shop-db"), (ORDERS_CMD, "crm"), (LOGS_CMD, "shop-db"), (LOGS_CMD, "crm")]),
])
def test_waiting_for(acks: dict[str, str], waiting: list[tuple[str, str]]) -> None:
    assert waiting_for(tracked(acks=acks)) == waiting


# --- audit -----------------------------------------------------------------------------------------------

def assert_valid_audit(schema_dir: Path, audit: dict[str, Any]) -> None:
    schema, fields = load_schema(schema_dir, "privacy.audit.v1")
    assert fastavro.validation.validate(audit, schema, raise_errors=True)
    assert list(audit) == fields
    assert all(type(v) is str for v in audit["details"].values())
    assert str(uuid.UUID(audit["audit_id"])) == audit["audit_id"]


@pytest.mark.parametrize("request_type", REQUEST_TYPES)
def test_request_audits(schema_dir: Path, request_type: str) -> None:
    state = new_state(replace(EXAMPLE_REQUEST, type=request_type), Rights(), NOW)
    audit = request_audit(state, "request_received", NOW + 1, "received", {"channel": "help_center"})
    assert_valid_audit(schema_dir, audit)
    assert audit == {
        "audit_id": audit["audit_id"], "occurred_at": iso(NOW + 1), "subject": "cust-8841",
        "action": "request_received", "rule": f"request.{request_type}", "request_id": "req-2026-11-000042",
        "details": {"type": request_type, "status": "received", "due_at": "2026-12-18T09:15:00Z",
                    "channel": "help_center"},
    }
    assert "cust-8841" not in json.dumps({k: v for k, v in audit.items() if k != "subject"})


def test_a_request_audit_without_details(schema_dir: Path) -> None:
    state = new_state(EXAMPLE_REQUEST, Rights(), NOW)
    state["status"] = "overdue"
    audit = request_audit(state, "overdue", NOW, "overdue")
    assert_valid_audit(schema_dir, audit)
    assert audit["details"] == {"type": "erase", "status": "overdue", "due_at": "2026-12-18T09:15:00Z"}


def test_request_audit_ids_are_deterministic() -> None:
    state = new_state(EXAMPLE_REQUEST, Rights(), NOW)
    first = request_audit(state, "command", NOW, ORDERS_CMD)["audit_id"]
    assert request_audit(state, "command", NOW + 60, ORDERS_CMD, {"n": "1"})["audit_id"] == first
    others = {
        request_audit(state, "command", NOW, LOGS_CMD)["audit_id"],
        request_audit(state, "retry", NOW, ORDERS_CMD)["audit_id"],
        request_audit(new_state(replace(EXAMPLE_REQUEST, request_id="req-2"), Rights(), NOW), "command", NOW,
                      ORDERS_CMD)["audit_id"],
    }
    assert first not in others and len(others) == 3
