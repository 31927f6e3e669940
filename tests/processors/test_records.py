"""Every record Lethe writes (processors/records.py) against its schema in schemas/: fastavro's
validation, field order, and a round trip through the same Decoder the readers use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import fastavro.validation
import orjson
import pytest

from processors.decode import Decoder
from processors.records import (
    audit_record,
    command_audit,
    command_for,
    dlq_headers,
    export_part,
    held_audit,
    hold_audit,
    lifecycle_ack,
    lifecycle_command,
    sharing_entry,
    transfer_audit,
)
from processors.retention.holds import Hold
from processors.retention.timers import Timer
from processors.schemas import SchemaCatalog

NOW = 1_795_253_400.0                              # 2026-11-21T09:30:00Z
MOMENT = datetime(2026, 11, 21, 9, 30, 0, 123456, tzinfo=UTC)
TIMER = Timer("orders-completed/ORD-1", "orders-completed", "anonymize", "orders", "cust-8841", "ORD-1",
              ("contact.email",), NOW - 5)
LOG_TIMER = Timer("logs/ev-1", "logs", "delete", "logs", "", "ev-1", (), NOW - 5)
HOLD = Hold("hold-1", "place", "cust-8841", "ORD-1", "LIT-2026-17", "2026-11-21T09:30:00Z")
SUBJECT_HOLD = Hold("hold-2", "release", "cust-8841", None, "LIT-2026-18", "2026-11-21T09:30:00Z")

Build = Callable[[], dict[str, Any]]

RECORDS: list[tuple[str, str, Build]] = [
    # schema, case, the record
    ("lifecycle.commands.v1", "a retention command on one record", lambda: command_for(TIMER, NOW)),
    ("lifecycle.commands.v1", "an anonymous log record's deletion", lambda: command_for(LOG_TIMER, NOW)),
    ("lifecycle.commands.v1", "every record of a family (record_key null), with updates",
     lambda: lifecycle_command("c-1", "update", "cust-8841", "logs", None, issued_at=NOW, due_at=NOW + 86_400,
                               rule="req-1", cause="request", updates={"contact.email": "new@example.com"})),
    ("lifecycle.commands.v1", "an export, times as datetimes",
     lambda: lifecycle_command("c-2", "export", "cust-8841", "orders", None, issued_at=MOMENT, due_at=MOMENT,
                               rule="req-2", cause="request")),
    ("lifecycle.acks.v1", "applied, no error", lambda: lifecycle_ack("c-1", "shop-db", "applied", 3, MOMENT)),
    ("lifecycle.acks.v1", "failed with an error",
     lambda: lifecycle_ack("c-1", "shop-db", "failed", 0, NOW, "database error (OperationalError)")),
    ("lifecycle.acks.v1", "not found", lambda: lifecycle_ack("c-1", "shop-db", "not_found", 0, MOMENT, None)),
    ("privacy.audit.v1", "every field",
     lambda: audit_record("export", "cust-8841", NOW, "req-1", rule="r", request_id="req-1", details={"n": "3"})),
    ("privacy.audit.v1", "no subject, rule, request or details", lambda: audit_record("dlq", None, NOW, "x")),
    ("privacy.audit.v1", "an empty subject is null", lambda: audit_record("dlq", "", MOMENT, "x")),
    ("privacy.audit.v1", "a command's audit", lambda: command_audit(command_for(TIMER, NOW), NOW, 1.5)),
    ("privacy.audit.v1", "a hold on one order", lambda: hold_audit(HOLD, NOW)),
    ("privacy.audit.v1", "a release of a subject hold", lambda: hold_audit(SUBJECT_HOLD, NOW)),
    ("privacy.audit.v1", "a suspension", lambda: held_audit(TIMER, [HOLD, SUBJECT_HOLD], NOW)),
    ("privacy.audit.v1", "a blocked transfer",
     lambda: transfer_audit("cust-8841", NOW, "orders.v1:0:7:cust-8841", output="orders.anonymized.v1", origin="EU",
                            destination="XX", decision="block", safeguard="none", records=2, source_topic="orders.v1")),
    ("privacy.audit.v1", "a pseudonymized transfer of an anonymous visitor (subject null)",
     lambda: transfer_audit(None, MOMENT, "logs.v1:1:0:", output="logs.anonymized.v1", origin="EU",
                            destination="US", decision="pseudonymize", safeguard="scc", records=1,
                            source_topic="logs.v1")),
    ("privacy.exports.v1", "a store's rows of one family",
     lambda: export_part("req-1", "cust-8841", "shop-db", "orders", MOMENT, "[]", 1, 3)),
    ("privacy.exports.v1", "Lethe's own part (family null)",
     lambda: export_part("req-1", "cust-8841", "lethe", None, NOW, "{}")),
    ("privacy.sharing.v1", "every field",
     lambda: sharing_entry("cust-8841", "parcelco", "contact.address", basis="contract", region="EU",
                           first_shared_at=NOW - 60, last_shared_at=MOMENT, count=3, purpose="order_fulfilment",
                           safeguard="adequacy")),
    ("privacy.sharing.v1", "no purpose or safeguard",
     lambda: sharing_entry("cust-8841", "paynow", "transaction.payment", basis="contract", region="US",
                           first_shared_at=NOW, last_shared_at=NOW, count=1)),
]


@pytest.fixture(scope="module")
def decoders(catalog: SchemaCatalog) -> Callable[[str], Decoder]:
    return lambda topic: Decoder(catalog.for_topic(topic), catalog.by_fingerprint.get)


@pytest.mark.parametrize(("topic", "case", "build"), RECORDS, ids=[f"{t}: {c}" for t, c, _ in RECORDS])
def test_each_record_follows_its_schema(catalog: SchemaCatalog, decoders: Callable[[str], Decoder], topic: str,
                                        case: str, build: Build) -> None:
    record = build()
    schema = catalog.for_topic(topic)
    assert fastavro.validation.validate(record, schema.parsed, raise_errors=True)
    assert list(record) == [f["name"] for f in schema.raw["fields"]]
    assert decoders(topic).decode(orjson.dumps(record)) == record   # as a reader of the topic sees it


def test_times_are_written_as_rfc_3339() -> None:
    assert command_for(TIMER, NOW)["issued_at"] == "2026-11-21T09:30:00Z"
    assert lifecycle_ack("c", "s", "applied", 1, MOMENT)["acked_at"] == "2026-11-21T09:30:00.123456+00:00"
    assert export_part("r", "s", "lethe", None, NOW, "{}")["created_at"] == "2026-11-21T09:30:00Z"


def test_a_command_copies_what_it_is_given() -> None:
    categories, updates = ["contact.email"], {"contact.email": "x"}
    command = lifecycle_command("c", "update", "s", "orders", None, issued_at=NOW, due_at=NOW, rule="r",
                                cause="request", categories=categories, updates=updates)
    assert command["categories"] == categories and command["categories"] is not categories
    assert command["updates"] == updates and command["updates"] is not updates


def envelope(headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The dlq.v1 record the headers describe (its value and key travel as the Kafka record's)."""
    fields = {name: value.decode() for name, value in headers}
    return {"original": b"{not json", "key": None, "source_topic": fields["source_topic"],
            "source_partition": int(fields["source_partition"]), "source_offset": int(fields["source_offset"]),
            "encoding": fields["encoding"], "reason": fields["reason"], "rule": fields["rule"],
            "field_path": fields.get("field_path"), "failed_at": fields["failed_at"]}


@pytest.mark.parametrize(("path", "failed_at"), [("customer.email", MOMENT), ("", NOW)])
def test_dlq_headers_describe_a_dlq_v1_record(catalog: SchemaCatalog, path: str, failed_at: Any) -> None:
    headers = dlq_headers(source_topic="orders.v1", partition=3, offset=1_234_567_890_123, encoding="json",
                          reason="malformed JSON at byte 1", rule="json", path=path, failed_at=failed_at)
    names = ["source_topic", "source_partition", "source_offset", "encoding", "reason", "rule", "failed_at"]
    assert [name for name, _ in headers] == names + (["field_path"] if path else [])
    assert all(type(value) is bytes for _, value in headers)
    schema = catalog.for_topic("dlq.v1")
    record = envelope(headers)
    assert fastavro.validation.validate(record, schema.parsed, raise_errors=True)
    assert record["field_path"] == (path or None)
    assert record["source_partition"] == 3 and record["source_offset"] == 1_234_567_890_123


def test_dlq_headers_keep_todays_bytes() -> None:
    headers = dlq_headers(source_topic="consent.v1", partition=0, offset=7, encoding="avro", reason="r",
                          rule="enum", path="purpose", failed_at=MOMENT)
    assert headers == [("source_topic", b"consent.v1"), ("source_partition", b"0"),
                       ("source_offset", b"7"), ("encoding", b"avro"), ("reason", b"r"), ("rule", b"enum"),
                       ("failed_at", b"2026-11-21T09:30:00.123456+00:00"), ("field_path", b"purpose")]
