"""A subject's story (processors/story.py): each record Lethe writes becomes one entry of the right kind,
in UTC time order, each once; the table and JSON Lines hold the same entries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from processors.records import (
    audit_record,
    hold_audit,
    lifecycle_ack,
    lifecycle_command,
    sharing_entry,
    transfer_audit,
)
from processors.retention.holds import Hold
from processors.sources import Source
from processors.story import (
    Entry,
    ack_entry,
    audit_entry,
    command_entry,
    dead_letter_entry,
    deadline_entry,
    event_entry,
    json_lines,
    share_entry,
    story,
    table,
)

T = 1_790_000_000.0
ORDERS = Source("orders.v1", "orders.v1.avsc", "records", ("customer_id",), ("order_id",), ("occurred_at",),
                ("event_type",))
LOGS = Source("logs.v1", "logs.v1.avsc", "events", ("customer_id",), ("event_id",), ("occurred_at",))


@pytest.mark.parametrize(("audit", "kind", "action", "ref"), [
    (audit_record("consent", "c", T, "1", rule="consent.marketing", details={"purpose": "marketing"}),
     "consent", "consent", ""),
    (audit_record("gate", "c", T, "2", rule="gate.restricted", details={"output": "orders.anonymized.v1"}),
     "gate", "gate", ""),
    (hold_audit(Hold("hold-1", "place", "c", None, "LIT-1", "2026-11-01T00:00:00Z"), T), "hold", "placed", "hold-1"),
    (hold_audit(Hold("hold-1", "release", "c", None, "LIT-1", "2026-11-01T00:00:00Z"), T), "hold", "released",
     "hold-1"),
    (audit_record("command", "c", T, "3", rule="orders-completed", details={"command_id": "cmd-1"}),
     "deadline", "fired", "cmd-1"),
    (audit_record("suspended", "c", T, "4", rule="logs", details={"timer": "logs/e1", "hold_ids": "hold-1"}),
     "deadline", "suspended", "logs/e1"),
    (transfer_audit("c", T, "5", output="o", origin="EU", destination="US", decision="block", safeguard="none",
                    records=2, source_topic="orders.v1"), "transfer", "transfer_blocked", ""),
    (audit_record("completion", "c", T, "6", rule="request.erase", request_id="req-1"), "request", "completion",
     "req-1"),
    (audit_record("command", "c", T, "8", rule="request.erase", request_id="req-1", details={"command_id": "cmd-2"}),
     "request", "command", "req-1"),
    (audit_record("something_new", "c", T, "7"), "audit", "something_new", ""),
])
def test_an_audit_record_is_an_entry_of_its_kind(audit: dict[str, Any], kind: str, action: str, ref: str) -> None:
    entry = audit_entry(audit, "privacy.audit.v1")
    assert (entry.kind, entry.action, entry.ref, entry.source) == (kind, action, ref, "privacy.audit.v1")
    assert entry.at == "2026-09-21T14:13:20Z"
    assert entry.details.get("rule") == audit["rule"]
    assert all(entry.details[k] == v for k, v in audit["details"].items() if v)


@pytest.mark.parametrize(("source", "record", "ref", "details"), [
    (ORDERS, {"event_id": "e1", "order_id": "ORD-1", "event_type": "paid", "occurred_at": "2026-11-01T10:00:00+01:00",
              "customer_id": "c", "customer": {"email": "a@b.example"}}, "ORD-1", {"status": "paid", "event_id": "e1"}),
    (LOGS, {"event_id": "e2", "occurred_at": "2026-11-01T09:00:00Z", "customer_id": "c", "ip": "198.51.100.1"},
     "e2", {}),
])
def test_an_event_names_its_ids_time_and_status_never_its_other_fields(
        source: Source, record: dict[str, Any], ref: str, details: dict[str, str]) -> None:
    entry = event_entry(source, record, source.topic)
    assert (entry.at, entry.kind, entry.action, entry.ref) == ("2026-11-01T09:00:00Z", "event", "received", ref)
    assert dict(entry.details) == details


def test_commands_acks_shares_deadlines_and_dead_letters() -> None:
    command = lifecycle_command("cmd-1", "delete", "c", "orders", None, issued_at=T, due_at=T + 10, rule="req-1",
                                cause="request")
    entry = command_entry(command, "partners.paynow.commands.v1")
    assert (entry.kind, entry.action, entry.ref) == ("command", "delete", "cmd-1")
    assert dict(entry.details) == {"family": "orders", "cause": "request", "rule": "req-1",
                                   "due_at": "2026-09-21T14:13:30Z"}
    ack = ack_entry(lifecycle_ack("cmd-1", "partner.paynow", "not_found", 0, T + 5), "lifecycle.acks.v1")
    assert (ack.kind, ack.action, ack.ref, dict(ack.details)) == (
        "ack", "not_found", "cmd-1", {"store": "partner.paynow", "rows_affected": "0"})
    share = share_entry(sharing_entry("c", "paynow", "transaction.payment", basis="contract", region="US",
                                      first_shared_at=T, last_shared_at=T + 60, count=3, safeguard="scc"), "ledger")
    assert (share.at, share.kind, share.ref) == ("2026-09-21T14:14:20Z", "share", "paynow")
    assert share.details["records"] == "3" and share.details["category"] == "transaction.payment"
    timer = ["orders-completed", "anonymize", "orders", "c", "ORD-1", ["contact.email"], T + 86_400, "records"]
    deadline = deadline_entry("orders-completed/ORD-1", timer, T, "timers")
    assert (deadline.at, deadline.action, deadline.details["due_at"]) == (
        "2026-09-21T14:13:20Z", "set", "2026-09-22T14:13:20Z")
    dead = dead_letter_entry({"source_topic": b"orders.v1", "source_offset": b"17", "reason": b"missing",
                              "rule": b"required", "field_path": b"occurred_at",
                              "failed_at": b"2026-11-01T10:00:00+00:00"}, "dlq.v1", T)
    assert (dead.at, dead.kind, dead.ref, dead.details["rule"]) == ("2026-11-01T10:00:00Z", "dlq", "17", "required")


def entry(at: str, kind: str = "ack", ref: str = "x", **details: str) -> Entry:
    return Entry(at, kind, "a", ref, "topic", details)


@pytest.mark.parametrize(("entries", "expected"), [
    # time order across sources, ties in the order read
    ([entry("2026-11-02T00:00:00Z", ref="b"), entry("2026-11-01T00:00:00Z", ref="a"),
      entry("2026-11-02T00:00:00Z", ref="c")], ["a", "b", "c"]),
    # a repeated record (at-least-once) once
    ([entry("2026-11-01T00:00:00Z", ref="a"), entry("2026-11-01T00:00:00Z", ref="a")], ["a"]),
    # the same ack again later is a new entry (a command sent again)
    ([entry("2026-11-01T00:00:00Z", ref="a"), entry("2026-11-01T00:00:05Z", ref="a")], ["a", "a"]),
    # a ledger entry: its latest version only
    ([entry("2026-11-01T00:00:00Z", "share", "paynow", category="c1", records="1"),
      entry("2026-11-03T00:00:00Z", "share", "paynow", category="c1", records="4"),
      entry("2026-11-02T00:00:00Z", "share", "paynow", category="c2", records="1")],
     ["paynow:c2:1", "paynow:c1:4"]),
])
def test_the_story_is_in_time_order_each_entry_once(entries: list[Entry], expected: list[str]) -> None:
    told = story(entries)
    assert [e.ref if e.kind != "share" else f"{e.ref}:{e.details['category']}:{e.details['records']}"
            for e in told] == expected


def test_the_table_and_json_lines_hold_the_same_entries() -> None:
    told = story([entry("2026-11-01T00:00:00Z", "event", "ORD-1", status="paid"),
                  entry("2026-11-01T00:00:01Z", "ack", "cmd-1", store="shop-db")])
    lines = table(told)
    assert lines[0].split() == ["TIME", "KIND", "WHAT", "REF", "DETAILS"]
    assert lines[1].split() == ["2026-11-01T00:00:00Z", "event", "a", "ORD-1", "status=paid"]
    assert lines[2].endswith("cmd-1  store=shop-db")
    objects = [json.loads(line) for line in json_lines(told)]
    assert objects == [e.as_json() for e in told]
    assert set(objects[0]) == {"at", "kind", "action", "ref", "source", "details"}
