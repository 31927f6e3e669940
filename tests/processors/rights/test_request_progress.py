"""After acceptance: acks complete a request, the deadline makes it overdue, a store that does not
ack within the timeout gets the commands again."""

from __future__ import annotations

from typing import Any

import pytest
from rights_cases import CONTEXT, NOW, request, view

from processors.retention import iso, parse_time
from processors.rights import REQUEST_TYPES, kind_of, on_ack, on_tick

ERASE = REQUEST_TYPES["erase"]


def accepted(request_type: str = "erase", **details: str) -> dict[str, Any]:
    return REQUEST_TYPES[request_type].accept(request(request_type, details), view()).states[-1]


def acked(state: dict[str, Any], *pairs: tuple[str, str], status: str = "applied") -> dict[str, Any]:
    for command_id, store in pairs:
        outcome = on_ack(state, kind_of(state["type"]), command_id, store, status, "1", NOW + 5)
        assert outcome.state is not None
        state = outcome.state
    return state


def pairs(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c, s) for c in state["commands"] for s in state["stores"]]


# --- acks -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "done", "actions"), [
    ("applied", True, ["ack", "completion"]),
    ("not_found", True, ["ack", "completion"]),
    ("failed", False, ["ack"]),
])
def test_the_last_ack_completes(status: str, done: bool, actions: list[str]) -> None:
    state = accepted()
    *first, last = pairs(state)
    state = acked(state, *first)
    outcome = on_ack(state, ERASE, *last, status, "2", NOW + 10)
    assert outcome.state is not None
    assert [a["action"] for a in outcome.audits] == actions
    assert outcome.state["status"] == ("completed" if done else "in_progress")
    assert outcome.erasure_seconds == (pytest.approx(12.5) if done else None)
    assert outcome.audits[0]["details"] == {"type": "erase", "status": "in_progress", "due_at": state["due_at"],
                                            "command_id": last[0], "store": last[1], "ack_status": status,
                                            "rows_affected": "2"}
    if done:
        assert outcome.audits[1]["details"]["seconds_to_complete"] == "12.500"
        assert outcome.state["completed_at"] == iso(NOW + 10)


def test_a_replayed_ack_changes_nothing_and_the_state_is_not_changed_in_place() -> None:
    state = accepted()
    command_id, store = pairs(state)[0]
    outcome = on_ack(state, ERASE, command_id, store, "applied", "1", NOW)
    assert outcome.state is not None and state["acks"] == {}
    assert on_ack(outcome.state, ERASE, command_id, store, "applied", "1", NOW + 1).state is None
    # a new status for the same command and store is a new ack
    assert on_ack(outcome.state, ERASE, command_id, store, "failed", "0", NOW + 1).state is not None


def test_a_completed_request_is_not_completed_again() -> None:
    state = acked(accepted(), *pairs(accepted()))
    assert state["status"] == "completed"
    outcome = on_ack(state, ERASE, pairs(state)[0][0], "warehouse", "applied", "0", NOW + 20)
    assert [a["action"] for a in outcome.audits] == ["ack"]


# --- deadlines and retries ------------------------------------------------------------------------------

TIMEOUT = CONTEXT.rights.ack_timeout_s


@pytest.mark.parametrize(("after", "acks", "changed", "actions", "retried"), [
    (1.0, 0, False, [], []),                                  # nothing due yet
    (TIMEOUT + 1, 0, True, ["retry"], ["crm", "shop-db"]),    # no store acked in time
    (TIMEOUT + 1, 3, True, ["retry"], ["crm"]),               # one store still missing for one command
    (TIMEOUT + 1, 4, False, [], []),                          # completed: nothing to do
    (40 * 86_400, 0, True, ["overdue", "retry"], ["crm", "shop-db"]),
    (40 * 86_400, 3, True, ["overdue", "retry"], ["crm"]),
])
def test_tick(after: float, acks: int, changed: bool, actions: list[str], retried: list[str]) -> None:
    state = accepted()
    state = acked(state, *pairs(state)[:acks])
    outcome = on_tick(state, ERASE, CONTEXT, NOW + after)
    assert (outcome.state is not None) == changed
    assert [a["action"] for a in outcome.audits] == actions
    assert outcome.waiting_for == retried
    missing = {c for c, s in pairs(state)[acks:]}
    assert {c["command_id"] for c in outcome.commands} == (missing if retried else set())
    if outcome.state is not None and retried:
        assert outcome.state["retries"] == 1 and outcome.state["sent_at"] == iso(NOW + after)
        assert outcome.audits[-1]["details"]["waiting_for"] == ",".join(retried)
        assert state["retries"] == 0   # not changed in place


def test_an_overdue_request_is_audited_overdue_once() -> None:
    state = accepted("restrict")   # completed at once: never overdue
    assert on_tick(state, REQUEST_TYPES["restrict"], CONTEXT, NOW + 40 * 86_400).state is None
    state = accepted("access")
    late = parse_time(state["due_at"]) + 1
    first = on_tick(state, REQUEST_TYPES["access"], CONTEXT, late)
    assert first.state is not None and first.state["status"] == "overdue"
    again = on_tick({**first.state, "sent_at": iso(late)}, REQUEST_TYPES["access"], CONTEXT, late + 1)
    assert again.state is None and again.audits == []


def test_a_rectify_retry_sends_nothing_but_is_audited() -> None:
    state = accepted("rectify", **{"contact.email": "a@example.com"})
    outcome = on_tick(state, REQUEST_TYPES["rectify"], CONTEXT, NOW + TIMEOUT + 1)
    assert outcome.commands == [] and [a["action"] for a in outcome.audits] == ["retry"]
