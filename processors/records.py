"""One constructor per record Lethe writes, each following its schema in ``schemas/``.

* :func:`lifecycle_command` (``lifecycle.commands.v1``), with :func:`command_for` for a fired
  retention timer;
* :func:`lifecycle_ack` (``lifecycle.acks.v1``);
* :func:`audit_record` (``privacy.audit.v1``), with the audits of commands, holds, suspensions and
  transfers;
* :func:`export_part` (``privacy.exports.v1``);
* :func:`sharing_entry` (``privacy.sharing.v1``), one entry of the sharing ledger;
* :func:`rule_request` (``privacy-requests.v1``), a request a rule of Lethe's files itself;
* :func:`dlq_headers`, the envelope of a dead letter (``dlq.v1``: the value is the original bytes,
  every other field a header).

Pure: the caller passes the time (epoch seconds, written by :func:`~processors.time.iso`, or an
aware datetime, written by its ``isoformat``) and serializes the dict it gets back. Derived ids are
deterministic, so a record built again after a crash is recognizably the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from processors.ids import derived_id
from processors.retention.holds import Hold
from processors.retention.timers import Timer, command_id
from processors.time import iso

Stamp = float | datetime   # epoch seconds, or an aware datetime


def _stamp(moment: Stamp) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else iso(moment)


# --- lifecycle commands -------------------------------------------------------------------------

def lifecycle_command(command_id: str, action: str, subject: str, family: str, record_key: str | None, *,
                      issued_at: Stamp, due_at: Stamp, rule: str, cause: str, categories: Sequence[str] = (),
                      updates: Mapping[str, str] | None = None, export_key: str | None = None) -> dict[str, Any]:
    """A command for store agents: ``action`` on the subject's records of ``family`` (one, if ``record_key``);
    an export command carries the public key its part is sealed to (processors/exportkeys.py)."""
    return {
        "command_id": command_id, "issued_at": _stamp(issued_at), "action": action, "subject": subject,
        "selector": {"family": family, "record_key": record_key},
        "categories": list(categories), "fields": [], "updates": dict(updates or {}),
        "rule": rule, "cause": cause, "due_at": _stamp(due_at), "export_key": export_key,
    }


def command_for(timer: Timer, now: float) -> dict[str, Any]:
    """The lifecycle command of a fired retention timer."""
    return lifecycle_command(command_id(timer), timer.action, timer.subject, timer.family, timer.record_key,
                             issued_at=now, due_at=timer.due, rule=timer.rule, cause="retention",
                             categories=timer.categories)


# --- acks -----------------------------------------------------------------------------------------

def lifecycle_ack(command_id: str, store: str, status: str, rows_affected: int, acked_at: Stamp,
                  error: str | None = None) -> dict[str, Any]:
    """A store agent's ack of one command; ``error`` names tables, columns and rules, never a value."""
    return {"command_id": command_id, "store": store, "status": status, "rows_affected": rows_affected,
            "acked_at": _stamp(acked_at), "error": error}


# --- audit records --------------------------------------------------------------------------------

def audit_record(action: str, subject: str | None, now: Stamp, identity: str, rule: str | None = None,
                 request_id: str | None = None, details: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An audit entry; ``identity`` makes its id deterministic. ``details`` never holds a personal value."""
    return {
        "audit_id": derived_id(f"audit:{action}:{identity}"),
        "occurred_at": _stamp(now), "subject": subject or None, "action": action, "rule": rule,
        "request_id": request_id, "details": dict(details or {}),
    }


def command_audit(command: Mapping[str, Any], now: float, lateness: float) -> dict[str, Any]:
    selector = command["selector"]
    details = {"command_id": command["command_id"], "command_action": command["action"],
               "family": selector["family"], "record_key": selector["record_key"] or "",
               "due_at": command["due_at"], "lateness_seconds": f"{lateness:.3f}"}
    if command["categories"]:
        details["categories"] = ",".join(command["categories"])
    return audit_record("command", command["subject"], now, command["command_id"], rule=command["rule"],
                        details=details)


def hold_audit(hold: Hold, now: float) -> dict[str, Any]:
    details = {"hold_id": hold.hold_id, "case_ref": hold.case_ref, "scope": "order" if hold.order_id else "subject"}
    if hold.order_id:
        details["order_id"] = hold.order_id
    return audit_record(f"hold_{hold.action}", hold.subject, now, f"{hold.hold_id}:{hold.action}",
                        rule="legal-hold", details=details)


def held_audit(timer: Timer, holds: Iterable[Hold], now: float) -> dict[str, Any]:
    details = {"timer": timer.timer_id, "due_at": iso(timer.due), "command_action": timer.action,
               "hold_ids": ",".join(sorted(h.hold_id for h in holds))}
    identity = f"{timer.timer_id}@{timer.due!r}:{details['hold_ids']}"   # a new hold suspends anew
    return audit_record("suspended", timer.subject, now, identity, rule=timer.rule, details=details)


def transfer_audit(subject: str | None, now: Stamp, identity: str, *, output: str, origin: str, destination: str,
                   decision: str, safeguard: str, records: int, source_topic: str) -> dict[str, Any]:
    """A subject's records of one batch that a transfer rule blocked or pseudonymized for ``output``:
    action ``transfer_blocked`` or ``transfer_pseudonymized``, rule ``transfers.<origin>.<destination>``."""
    action = {"block": "transfer_blocked", "pseudonymize": "transfer_pseudonymized"}[decision]
    details = {"output": output, "origin": origin, "destination": destination, "decision": decision,
               "safeguard": safeguard, "records": str(records), "source_topic": source_topic}
    return audit_record(action, subject, now, f"{identity}:{output}:{decision}",
                        rule=f"transfers.{origin}.{destination}", details=details)


# --- export parts ---------------------------------------------------------------------------------

def export_part(request_id: str, subject: str, source: str, family: str | None, created_at: Stamp, document: str,
                chunk: int = 0, chunks: int = 1) -> dict[str, Any]:
    """One chunk of an access export: a store's rows of one family, or Lethe's own state (``family`` None)."""
    return {"request_id": request_id, "subject": subject, "source": source, "family": family,
            "created_at": _stamp(created_at), "document": document, "chunk": chunk, "chunks": chunks}


# --- the sharing ledger ---------------------------------------------------------------------------

def sharing_entry(subject: str, partner: str, category: str, *, basis: str, region: str, first_shared_at: Stamp,
                  last_shared_at: Stamp, count: int, purpose: str | None = None,
                  safeguard: str | None = None) -> dict[str, Any]:
    """One entry of the sharing ledger: ``count`` records of ``subject`` with ``category`` went to ``partner``."""
    return {"subject": subject, "partner": partner, "category": category, "purpose": purpose, "basis": basis,
            "region": region, "safeguard": safeguard, "first_shared_at": _stamp(first_shared_at),
            "last_shared_at": _stamp(last_shared_at), "count": count}


# --- requests Lethe files itself -------------------------------------------------------------------

def rule_request(request_id: str, request_type: str, subject: str, occurred_at: Stamp, rule: str,
                 details: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A rights request that a rule filed (e.g. ``minor_flag`` by ``minors.age``): channel ``internal``,
    ``details.rule`` naming the rule. Handled as any request; ``details`` never holds a personal value."""
    return {"request_id": request_id, "occurred_at": _stamp(occurred_at), "customer_id": subject,
            "type": request_type, "details": {"rule": rule, **(details or {})}, "channel": "internal"}


# --- dead letters ---------------------------------------------------------------------------------

def dlq_headers(*, source_topic: str, partition: int, offset: int, encoding: str, reason: str, rule: str,
                path: str, failed_at: Stamp) -> list[tuple[str, bytes]]:
    """The headers of a dead letter (its value is the original bytes). Reason, rule, path never hold a value."""
    headers = [
        ("source_topic", source_topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
        ("encoding", encoding.encode()),
        ("reason", reason.encode()),
        ("rule", rule.encode()),
        ("failed_at", _stamp(failed_at).encode()),
    ]
    if path:
        headers.append(("field_path", path.encode()))
    return headers
