"""A data subject's story for ``lethe audit --customer``: what Lethe received, decided and did about one
subject, in time order (docs/rights.md "A subject's audit story").

Pure: one constructor per kind of record the story is made of, each taking the decoded record (the
reading is streams/cli/audit.py's), then :func:`story` orders and de-duplicates the entries and
:func:`table` and :func:`json_lines` write them. An entry holds ids, times, rules, statuses, counts and
topic names: what the audit topic holds, never a personal value of the record it describes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.columns import aligned
from processors.plan import get_path
from processors.sources import Source
from processors.time import iso, parse_time

# the kind of a story entry, by the audit action that made it (an audit naming a request: "request")
AUDIT_KINDS = {
    "consent": "consent",
    "gate": "gate", "gate_lifted": "gate",
    "hold_place": "hold", "hold_release": "hold",
    "command": "deadline",             # a retention deadline fired: its command was published
    "suspended": "deadline",           # ... or was suspended by a legal hold
    "transfer_blocked": "transfer", "transfer_pseudonymized": "transfer",
}
# what an audit action is called in the story, but for a request's (the ``command`` of a fired deadline)
AUDIT_ACTIONS = {"command": "fired", "hold_place": "placed", "hold_release": "released"}
COLUMNS = ("TIME", "KIND", "WHAT", "REF", "DETAILS")


@dataclass(frozen=True)
class Entry:
    """One line of a subject's story."""

    at: str                     # RFC 3339, UTC
    kind: str                   # event, consent, request, hold, deadline, command, ack, share, transfer, gate, dlq
    action: str                 # what happened: received, set, fired, delete, applied, ...
    ref: str                    # the id it is about: event, request, hold, timer or command id, partner
    source: str                 # the topic it was read from
    details: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "action": self.action, "ref": self.ref, "source": self.source,
                "details": dict(self.details)}

    def identity(self) -> tuple[Any, ...]:
        return (self.at, self.kind, self.action, self.ref, tuple(sorted(self.details.items())))


def _utc(moment: Any) -> str:
    """An RFC 3339 time in UTC, so that the story's times sort and compare as written."""
    return iso(parse_time(moment))


def _clean(details: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in details.items() if value not in (None, "")}


def audit_entry(audit: Mapping[str, Any], topic: str) -> Entry:
    """An entry of privacy.audit.v1 (processors/records.py writes them)."""
    action = audit["action"]
    kind = "request" if audit.get("request_id") else AUDIT_KINDS.get(action, "audit")
    details = _clean({"rule": audit.get("rule"), **audit.get("details", {})})
    ref = audit.get("request_id") or details.get("hold_id") or details.get("command_id") or details.get("timer") or ""
    named = action if kind == "request" else AUDIT_ACTIONS.get(action, action)   # a request's command: "command"
    return Entry(_utc(audit["occurred_at"]), kind, named, ref, topic, details)


def event_entry(source: Source, record: dict[str, Any], topic: str) -> Entry:
    """An event of a policy source: its record id, time and status, never its other fields."""
    details = _clean({"status": get_path(record, source.status) if source.status else None,
                      "event_id": record.get("event_id") if source.record_id != ("event_id",) else None})
    return Entry(_utc(get_path(record, source.event_time)), "event", "received",
                 str(get_path(record, source.record_id)), topic, details)


def command_entry(command: Mapping[str, Any], topic: str) -> Entry:
    """A lifecycle command, on the stores' topic or a partner's (partners.<name>.commands.v1)."""
    selector = command["selector"]
    details = _clean({"family": selector.get("family"), "record_key": selector.get("record_key"),
                      "cause": command.get("cause"), "rule": command.get("rule"), "due_at": command.get("due_at"),
                      "categories": ",".join(command.get("categories") or ())})
    return Entry(_utc(command["issued_at"]), "command", command["action"], command["command_id"], topic, details)


def ack_entry(ack: Mapping[str, Any], topic: str) -> Entry:
    """A store agent's ack of one of the subject's commands."""
    details = _clean({"store": ack["store"], "rows_affected": ack.get("rows_affected"), "error": ack.get("error")})
    return Entry(_utc(ack["acked_at"]), "ack", ack["status"], ack["command_id"], topic, details)


def share_entry(entry: Mapping[str, Any], topic: str) -> Entry:
    """The latest sharing-ledger entry of one partner and category (records published to the partner)."""
    details = _clean({"category": entry["category"], "records": entry["count"],
                      "first_shared_at": entry["first_shared_at"], "purpose": entry.get("purpose"),
                      "basis": entry.get("basis"), "region": entry.get("region"), "safeguard": entry.get("safeguard")})
    return Entry(_utc(entry["last_shared_at"]), "share", "shared", entry["partner"], topic, details)


def deadline_entry(timer_id: str, timer: list[Any], set_at: float, topic: str) -> Entry:
    """A retention deadline set (or moved): a value of the timers changelog (processors/retention/timers.py),
    at the time it was written."""
    rule, action, family, _, record_key, categories, due, *_ = timer
    details = _clean({"rule": rule, "command_action": action, "family": family, "record_key": record_key,
                      "due_at": iso(float(due)), "categories": ",".join(categories or ())})
    return Entry(iso(set_at), "deadline", "set", timer_id, topic, details)


def dead_letter_entry(headers: Mapping[str, bytes], topic: str, written_at: float) -> Entry:
    """A record of the subject's that went to the DLQ: its headers only (the value is the record)."""
    text = {key: value.decode(errors="replace") for key, value in headers.items()}
    details = _clean({key: text.get(key) for key in ("source_topic", "reason", "rule", "field_path")})
    at = text.get("failed_at")
    return Entry(_utc(at) if at else iso(written_at), "dlq", "dead_lettered", text.get("source_offset", ""),
                 topic, details)


def story(entries: Iterable[Entry]) -> list[Entry]:
    """The entries in time order (ties keep the order read), each once: at-least-once delivery repeats
    records, and a ledger entry is rewritten as it grows (only its latest version is kept)."""
    seen: set[tuple[Any, ...]] = set()
    shares: dict[tuple[str, str], Entry] = {}
    kept: list[Entry] = []
    for entry in entries:
        if entry.kind == "share":
            key = (entry.ref, entry.details.get("category", ""))
            latest = shares.get(key)
            if latest is None or parse_time(entry.at) >= parse_time(latest.at):
                shares[key] = entry
            continue
        if entry.identity() not in seen:
            seen.add(entry.identity())
            kept.append(entry)
    kept += shares.values()
    return sorted(kept, key=lambda entry: parse_time(entry.at))


def table(entries: list[Entry]) -> list[str]:
    """The story as aligned lines for people: time, kind, what happened, the id it is about, details."""
    return aligned([COLUMNS, *((e.at, e.kind, e.action, e.ref, " ".join(f"{k}={v}" for k, v in e.details.items()))
                               for e in entries)])


def json_lines(entries: list[Entry]) -> list[str]:
    """The story for tools: one JSON object per line (JSON Lines), fields at, kind, action, ref, source, details."""
    return [json.dumps(entry.as_json(), ensure_ascii=False, sort_keys=False) for entry in entries]
