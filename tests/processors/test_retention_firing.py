"""Retention firing: due timers become commands and audits, or are parked while a hold covers them."""

from __future__ import annotations

import pytest

from processors.records import command_audit, command_for, held_audit
from processors.retention import Hold, Timer, parse_time
from processors.retention.firing import fire

NOW = parse_time("2033-11-21T09:15:02.5Z")
ORDER = Timer("orders-completed/o-1", "orders-completed", "anonymize", "orders", "cust-1", "o-1",
              ("contact.email",), NOW - 2.5)
LOG = Timer("logs-90d/e-1", "logs-90d", "delete", "logs", "", "e-1", (), NOW + 0.0)
OTHER = Timer("orders-completed/o-2", "orders-completed", "anonymize", "orders", "cust-2", "o-2", (), NOW - 60)
HOLD = Hold("h-1", "place", "cust-2", None, "case-7", "2033-01-01T00:00:00Z")


@pytest.mark.parametrize(("due", "fired", "parked"), [
    ([], [], []),
    ([(0, ORDER, [])], [(0, "orders-completed/o-1")], []),
    ([(0, ORDER, []), (3, LOG, []), (1, OTHER, [HOLD])], [(0, "orders-completed/o-1"), (3, "logs-90d/e-1")],
     [(1, "orders-completed/o-2")]),
    ([(1, OTHER, [HOLD, HOLD])], [], [(1, "orders-completed/o-2")]),
])
def test_fire(due: list[tuple[int, Timer, list[Hold]]], fired: list[tuple[int, str]],
              parked: list[tuple[int, str]]) -> None:
    firing = fire(due, NOW)
    assert firing.tombstone == fired
    assert firing.park == parked
    assert len(firing.fired) + len(firing.suspended) == len(due)


def test_a_fired_timer_yields_its_command_and_audit_on_its_partition() -> None:
    (fired,) = fire([(4, ORDER, [])], NOW).fired
    assert fired.partition == 4 and fired.key == "cust-1"
    assert fired.command == command_for(ORDER, NOW)
    assert fired.lateness == 2.5
    assert fired.audit == command_audit(fired.command, NOW, 2.5)
    assert fired.audit["details"]["lateness_seconds"] == "2.500"


@pytest.mark.parametrize(("timer", "key"), [(LOG, "e-1"), (ORDER, "cust-1")])
def test_the_key_is_the_subject_or_for_an_anonymous_record_its_record_key(timer: Timer, key: str) -> None:
    (fired,) = fire([(0, timer, [])], NOW).fired
    assert fired.key == key


def test_lateness_is_never_negative() -> None:
    early = Timer(LOG.timer_id, LOG.rule, LOG.action, LOG.family, LOG.subject, LOG.record_key, (), NOW + 5)
    (fired,) = fire([(0, early, [])], NOW).fired
    assert fired.lateness == 0.0


def test_a_held_timer_is_suspended_and_audited_with_its_holds() -> None:
    second = Hold("h-0", "place", "cust-2", "o-2", "case-8", "2033-01-01T00:00:00Z")
    (suspended,) = fire([(1, OTHER, [HOLD, second])], NOW).suspended
    assert suspended.key == "cust-2"
    assert suspended.audit == held_audit(OTHER, [HOLD, second], NOW)
    assert suspended.audit["details"]["hold_ids"] == "h-0,h-1"

