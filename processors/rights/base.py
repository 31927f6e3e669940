"""Data-subject requests (policy sections 5 and 8): the policy's [rights] section, request events,
deadlines, the commands a request fans out to, and the request's state. Pure logic, no I/O; what
each request type does is its own module beside this one (registered in ``REQUEST_TYPES``,
processors/rights/__init__.py), the partitioned state is in streams/state/requests.py and the I/O in
streams/requests.py.

    [rights]
    stores = ["shop-db"]       # store agents that must ack an erasure before it is complete
    deadline_days = 20         # due date of every request, counted from occurred_at
    business_days = true       # count Monday to Friday only
    ack_timeout = "60s"        # a store that has not acked by then gets the command again
    export_key_ttl = "3d"      # an export's key is destroyed this long after its parts are all in,
                               # if `lethe request export` has not written it (and so destroyed it) before
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.errors import PolicyError
from processors.ids import LETHE_NAMESPACE
from processors.records import audit_record, lifecycle_command
from processors.retention.rules import parse_duration
from processors.retention.timers import FAMILIES
from processors.time import iso, parse_time

CHANNELS = ("help_center", "customer_service", "written", "api", "internal")
# statuses of a request; open = received, in_progress or overdue
STATUSES = ("received", "in_progress", "completed", "overdue", "failed")
OPEN = ("received", "in_progress", "overdue")
# request ids and store names
IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True)
class Rights:
    stores: tuple[str, ...] = ("shop-db",)
    deadline_days: int = 20
    business_days: bool = True
    ack_timeout_s: float = 60.0
    export_key_ttl_s: float = 3 * 86_400.0
    families: tuple[str, ...] = FAMILIES   # of the policy's sources: one command per family
    # family -> the categories of the fields its subjects provide (processors/provided.py; set at start-up)
    provided: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def parse_rights(raw: Any, origin: str) -> Rights:
    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: rights.{message}")

    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [rights] must be a table")
    extra = set(raw) - {"stores", "deadline_days", "business_days", "ack_timeout", "export_key_ttl"}
    if extra:
        raise PolicyError(f"policy {origin}: [rights]: unknown key(s) {', '.join(sorted(extra))}")
    stores = raw.get("stores", ["shop-db"])
    if (not isinstance(stores, list) or not stores
            or not all(isinstance(s, str) and IDENTIFIER.fullmatch(s) for s in stores)):
        raise fail("stores must list the store agents' names (letters, digits, . _ : -)")
    days = raw.get("deadline_days", 20)
    if type(days) is not int or not 1 <= days <= 366:
        raise fail(f"deadline_days = {days!r}: use a whole number of days from 1 to 366")
    business = raw.get("business_days", True)
    if not isinstance(business, bool):
        raise fail("business_days must be true or false")
    try:
        timeout = parse_duration(raw.get("ack_timeout", "60s"))
    except ValueError as exc:
        raise fail(f"ack_timeout = {raw.get('ack_timeout')!r}: {exc}") from None
    try:
        ttl = parse_duration(raw.get("export_key_ttl", "3d"))
    except ValueError as exc:
        raise fail(f"export_key_ttl = {raw.get('export_key_ttl')!r}: {exc}") from None
    return Rights(tuple(dict.fromkeys(stores)), days, business, timeout, ttl)


def due_date(received: float, rights: Rights) -> float:
    """``deadline_days`` after ``received`` (calendar days, or Monday to Friday only), same time of day."""
    moment = datetime.fromtimestamp(received, UTC)
    if not rights.business_days:
        return (moment + timedelta(days=rights.deadline_days)).timestamp()
    left = rights.deadline_days
    while left:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment.timestamp()


def shortest_deadline_s(rights: Rights) -> float:
    """The shortest time an erasure's deadline can leave (business days: received on the weekday
    that puts the fewest weekend days in its span)."""
    monday = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    return min(due_date(monday + day * 86_400, rights) - (monday + day * 86_400) for day in range(7))


@dataclass(frozen=True)
class Request:
    request_id: str
    type: str
    subject: str
    occurred_at: str
    channel: str
    details: dict[str, str]

    @property
    def received(self) -> float:
        return parse_time(self.occurred_at)


def request_command_id(request_id: str, family: str, action: str) -> str:
    return str(uuid.uuid5(LETHE_NAMESPACE, f"request:{request_id}:{action}:{family}"))


def per_family(request: Request, action: str, now: float, due: float, id_tag: str | None = None,
               categories: tuple[str, ...] | list[str] = (), updates: dict[str, str] | None = None,
               families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    """One ``action`` command per family for the request's subject (every record of it in the family)."""
    return [lifecycle_command(request_command_id(request.request_id, family, id_tag or action), action,
                              request.subject, family, None, issued_at=now, due_at=due, rule=request.request_id,
                              cause="request", categories=categories, updates=updates)
            for family in families]


def erase_commands(request: Request, now: float, due: float,
                   families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    """Every store agent deletes the subject's rows."""
    return per_family(request, "delete", now, due, families=families)


def withdrawal_commands(request: Request, purpose: str, categories: tuple[str, ...] | list[str], now: float,
                        due: float, families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    """Anonymize the categories collected only on ``purpose``."""
    return per_family(request, "anonymize", now, due, f"anonymize.{purpose}", categories, families=families)


def export_commands(request: Request, now: float, due: float,
                    families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    """Every store agent publishes the subject's rows."""
    return per_family(request, "export", now, due, families=families)


def rectify_commands(request: Request, now: float, due: float,
                     families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    """Update commands with the request's new values (details other than ``message``).

    Keys are data categories (``contact.email``) or store column names; store agents write each to
    the one column it names. The values are personal data: commands are an internal topic.
    """
    updates = {k: v for k, v in request.details.items() if k != "message"}
    return per_family(request, "update", now, due, updates=updates, families=families) if updates else []


def new_state(request: Request, rights: Rights, now: float) -> dict[str, Any]:
    """The tracked state of a request (value of the requests changelog; no personal data but the subject)."""
    received = request.received
    return {"request_id": request.request_id, "type": request.type, "subject": request.subject,
            "channel": request.channel, "status": "received", "received_at": iso(received),
            "due_at": iso(due_date(received, rights)), "accepted_at": iso(now), "commands": {},
            "stores": list(rights.stores), "acks": {}, "sent_at": None, "retries": 0, "completed_at": None,
            "reason": None, "export": None, "outputs": None}


def waiting_for(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(command id, store) pairs still without a successful ack."""
    acks = state["acks"]
    return [(command_id, store) for command_id in state["commands"] for store in state["stores"]
            if acks.get(f"{command_id}|{store}") not in ("applied", "not_found")]


def request_audit(state: dict[str, Any], action: str, now: float, identity: str,
                  details: dict[str, str] | None = None) -> dict[str, Any]:
    facts = {"type": state["type"], "status": state["status"], "due_at": state["due_at"], **(details or {})}
    return audit_record(action, state["subject"], now, f"{state['request_id']}:{identity}",
                        rule=f"request.{state['type']}", request_id=state["request_id"], details=facts)
