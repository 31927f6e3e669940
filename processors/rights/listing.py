"""Lists of rights requests (``lethe request list``) and their deadlines (the worker's due-date gauge).

Pure: request states in (the values of the requests changelog, processors/rights/base.py), rows out.
A row names the request, never the subject: ``lethe audit --customer`` tells one subject's story.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from processors.columns import aligned
from processors.rights.base import OPEN, waiting_for
from processors.time import parse_time

# --status: which requests each choice selects
STATUS_CHOICES = ("open", "overdue", "completed", "failed")
COLUMNS = ("REQUEST", "TYPE", "STATUS", "RECEIVED", "DUE", "DUE IN", "WAITING FOR")


@dataclass(frozen=True)
class Row:
    request_id: str
    type: str
    status: str
    received_at: str
    due_at: str
    seconds_to_due: float        # negative once past due
    completed_at: str | None
    waiting_for: tuple[str, ...]  # stores, and partners as partner:<name>, that have not acked every command

    def as_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "type": self.type, "status": self.status,
                "received_at": self.received_at, "due_at": self.due_at,
                "seconds_to_due": round(self.seconds_to_due, 3), "completed_at": self.completed_at,
                "waiting_for": list(self.waiting_for)}


def pending(state: Mapping[str, Any]) -> tuple[str, ...]:
    """Who has not acked all of an open request's commands: a store, or ``partner:<name>`` for a partner's
    store (the request's ``partners``: store -> partner). Nothing once the request is no longer open."""
    if state["status"] not in OPEN:
        return ()
    partners: Mapping[str, str] = state.get("partners") or {}
    missing = {store for _, store in waiting_for(dict(state))}
    return tuple(f"partner:{partners[store]}" if store in partners else store
                 for store in state["stores"] if store in missing)


def row(state: Mapping[str, Any], now: float) -> Row:
    return Row(state["request_id"], state["type"], state["status"], state["received_at"], state["due_at"],
               parse_time(state["due_at"]) - now, state.get("completed_at"), pending(state))


def selected(states: Iterable[Mapping[str, Any]], now: float, status: str | None = None,
             request_type: str | None = None, subject: str | None = None) -> list[Row]:
    """The requests a ``--status``, ``--type`` and ``--customer`` choose, soonest due first.

    ``open``: received, in progress or overdue; ``overdue``: open and past its due date (also one the
    worker has not marked yet); ``completed`` and ``failed``: that status."""
    rows = []
    for state in states:
        if (request_type is not None and state["type"] != request_type) or \
                (subject is not None and state["subject"] != subject):
            continue
        one = row(state, now)
        is_open = one.status in OPEN
        if status is None or (status == "open" and is_open) or \
                (status == "overdue" and is_open and one.seconds_to_due < 0) or status == one.status:
            rows.append(one)
    return sorted(rows, key=lambda r: (parse_time(r.due_at), r.request_id))


def due_in(seconds: float) -> str:
    """A time to the due date for people: ``3d 4h``, ``5h 10m``, ``12m``; ``-2d 1h`` once past it."""
    sign, left = ("-" if seconds < 0 else ""), int(abs(seconds))
    days, hours, minutes = left // 86_400, left % 86_400 // 3_600, left % 3_600 // 60
    if days:
        return f"{sign}{days}d {hours}h"
    return f"{sign}{hours}h {minutes}m" if hours else f"{sign}{minutes}m"


def table(rows: list[Row]) -> list[str]:
    """The rows as aligned lines for people; a closed request's DUE IN is blank."""
    return aligned([COLUMNS, *((r.request_id, r.type, r.status, r.received_at, r.due_at,
                                due_in(r.seconds_to_due) if r.status in OPEN else "",
                                ", ".join(r.waiting_for) or "-") for r in rows)])


def json_array(rows: list[Row]) -> str:
    """The rows for tools: one JSON array of objects (fields as :meth:`Row.as_json`)."""
    return json.dumps([r.as_json() for r in rows], indent=2)


def soonest_due(states: Iterable[Mapping[str, Any]], now: float) -> dict[str, float]:
    """Per request type, the seconds until the due date of the open request due soonest that is not past
    it yet (those past it are overdue: counted apart); a type with no such request is absent."""
    soonest: dict[str, float] = {}
    for state in states:
        if state["status"] in OPEN:
            left = parse_time(state["due_at"]) - now
            if left >= 0:
                soonest[state["type"]] = min(left, soonest.get(state["type"], left))
    return soonest
