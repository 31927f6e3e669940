"""`lethe request list`: which requests a status and type select, in due order, who each waits for, and
the worker's time to the soonest due date (processors/rights/listing.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from processors.retention import iso
from processors.rights.listing import due_in, json_array, pending, selected, soonest_due, table

NOW = 1_790_000_000.0
DAY = 86_400.0


def state(request_id: str, status: str, due_in_days: float, request_type: str = "erase", subject: str = "cust-1",
          acks: dict[str, str] | None = None, partners: dict[str, str] | None = None) -> dict[str, Any]:
    return {"request_id": request_id, "type": request_type, "subject": subject, "status": status,
            "received_at": iso(NOW - DAY), "due_at": iso(NOW + due_in_days * DAY),
            "completed_at": iso(NOW) if status == "completed" else None,
            "commands": {"c1": {}, "c2": {}}, "stores": ["shop-db", "partner.paynow"],
            "partners": partners or {}, "acks": acks or {}}


STATES = [
    state("r-late", "overdue", -2),
    state("r-due-soon", "in_progress", 1, subject="cust-2"),
    state("r-unmarked", "received", -0.5, request_type="access"),   # past due, the worker has not marked it yet
    state("r-later", "in_progress", 15, request_type="access"),
    state("r-done", "completed", 10),
    state("r-failed", "failed", 12, request_type="rectify"),
]


@pytest.mark.parametrize(("status", "request_type", "subject", "expected"), [
    (None, None, None, ["r-late", "r-unmarked", "r-due-soon", "r-done", "r-failed", "r-later"]),
    ("open", None, None, ["r-late", "r-unmarked", "r-due-soon", "r-later"]),
    ("overdue", None, None, ["r-late", "r-unmarked"]),
    ("completed", None, None, ["r-done"]),
    ("failed", None, None, ["r-failed"]),
    ("open", "access", None, ["r-unmarked", "r-later"]),
    ("overdue", "erase", None, ["r-late"]),
    (None, "withdraw_consent", None, []),
    ("open", None, "cust-2", ["r-due-soon"]),
])
def test_a_status_type_and_subject_select_requests_soonest_due_first(
        status: str | None, request_type: str | None, subject: str | None, expected: list[str]) -> None:
    assert [r.request_id for r in selected(STATES, NOW, status, request_type, subject)] == expected


@pytest.mark.parametrize(("acks", "partners", "status", "expected"), [
    ({}, {}, "in_progress", ("shop-db", "partner.paynow")),
    ({"c1|shop-db": "applied", "c2|shop-db": "not_found"}, {}, "in_progress", ("partner.paynow",)),
    ({"c1|shop-db": "applied", "c2|shop-db": "failed"}, {}, "in_progress", ("shop-db", "partner.paynow")),
    ({"c1|shop-db": "applied", "c2|shop-db": "applied"}, {"partner.paynow": "paynow"}, "overdue",
     ("partner:paynow",)),
    ({}, {"partner.paynow": "paynow"}, "completed", ()),
    ({}, {}, "failed", ()),
])
def test_what_a_request_waits_for_names_stores_and_partners(acks: dict[str, str], partners: dict[str, str],
                                                            status: str, expected: tuple[str, ...]) -> None:
    assert pending(state("r", status, 3, acks=acks, partners=partners)) == expected


@pytest.mark.parametrize(("seconds", "text"), [
    (3 * DAY + 4 * 3600 + 59, "3d 4h"),
    (5 * 3600 + 10 * 60, "5h 10m"),
    (12 * 60 + 30, "12m"),
    (0, "0m"),
    (-(2 * DAY + 3600), "-2d 1h"),
    (-90, "-1m"),
])
def test_time_to_due_for_people(seconds: float, text: str) -> None:
    assert due_in(seconds) == text


def test_the_table_and_the_json_hold_the_same_rows_and_never_the_subject() -> None:
    rows = selected(STATES, NOW)
    lines = table(rows)
    assert lines[0].split() == ["REQUEST", "TYPE", "STATUS", "RECEIVED", "DUE", "DUE", "IN", "WAITING", "FOR"]
    assert [line.split()[0] for line in lines[1:]] == [r.request_id for r in rows]
    late = next(line for line in lines if line.startswith("r-late "))
    assert "-2d 0h" in late and late.endswith("shop-db, partner.paynow")
    done = next(line for line in lines if line.startswith("r-done "))
    assert done.endswith(" -") and "d " not in done.split("completed")[1]   # no time to due once closed
    parsed = json.loads(json_array(rows))
    assert [p["request_id"] for p in parsed] == [r.request_id for r in rows]
    assert parsed[0]["waiting_for"] == ["shop-db", "partner.paynow"] and parsed[0]["seconds_to_due"] == -2 * DAY
    assert "cust-" not in "\n".join(lines) + json_array(rows)


def test_the_soonest_due_date_per_type_counts_open_requests_not_yet_past_it() -> None:
    assert soonest_due(STATES, NOW) == {"erase": 1 * DAY, "access": 15 * DAY}
    assert soonest_due([s for s in STATES if s["status"] in ("completed", "failed")], NOW) == {}
