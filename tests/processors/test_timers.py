"""TimerIndex: due order, once-only firing, rescheduling, cancelling, bounded stale entries."""

from __future__ import annotations

import random

import pytest

from processors.timers import TimerIndex


def test_pops_only_what_is_due_in_deadline_order() -> None:
    index = TimerIndex()
    for timer_id, due in [("c", 30.0), ("a", 10.0), ("b", 20.0), ("d", 40.0)]:
        index.schedule(timer_id, due, payload=timer_id.upper())
    assert index.pop_due(5.0) == []
    assert index.pop_due(25.0) == [("a", 10.0, "A"), ("b", 20.0, "B")]
    assert index.next_due() == 30.0
    assert len(index) == 2


def test_a_timer_fires_once() -> None:
    index = TimerIndex()
    index.schedule("x", 1.0)
    assert [t for t, _, _ in index.pop_due(2.0)] == ["x"]
    assert index.pop_due(3.0) == []
    assert "x" not in index


@pytest.mark.parametrize(("new_due", "fires_at_15"), [(20.0, False), (5.0, True)])
def test_rescheduling_moves_the_deadline(new_due: float, fires_at_15: bool) -> None:
    index = TimerIndex()
    index.schedule("x", 10.0, "old")
    index.schedule("x", new_due, "new")
    fired = index.pop_due(15.0)
    assert (fired == [("x", new_due, "new")]) is fires_at_15
    assert len(index) == (0 if fires_at_15 else 1)


def test_cancelled_timers_never_fire() -> None:
    index = TimerIndex()
    index.schedule("x", 1.0)
    index.schedule("y", 2.0)
    assert index.cancel("x") is True
    assert index.cancel("x") is False
    assert [t for t, _, _ in index.pop_due(10.0)] == ["y"]


def test_limit_leaves_the_rest_for_the_next_tick() -> None:
    index = TimerIndex()
    for n in range(10):
        index.schedule(n, float(n))
    assert [t for t, _, _ in index.pop_due(100.0, limit=4)] == [0, 1, 2, 3]
    assert len(index) == 6


def test_stale_entries_stay_bounded_under_churn() -> None:
    index = TimerIndex()
    rng = random.Random(3)
    for _ in range(50_000):
        index.schedule(rng.randrange(100), rng.random() * 1000)
    assert len(index) == 100
    assert len(index._heap) <= 2 * len(index) + 1024 + 1
    fired = index.pop_due(2000.0)
    assert len(fired) == 100
    assert [due for _, due, _ in fired] == sorted(due for _, due, _ in fired)


def test_due_and_payload_of_an_unknown_timer_are_none() -> None:
    index = TimerIndex()
    index.schedule("x", 1.0, "X")
    assert index.due_of("y") is None
    assert index.payload_of("y") is None


def test_due_and_payload_of_a_scheduled_timer() -> None:
    index = TimerIndex()
    index.schedule("x", 10.0, b"payload-x")
    index.schedule("y", 5.0, b"payload-y")
    assert (index.due_of("x"), index.payload_of("x")) == (10.0, b"payload-x")
    assert (index.due_of("y"), index.payload_of("y")) == (5.0, b"payload-y")


@pytest.mark.parametrize("new_due", [20.0, 5.0, 10.0])
def test_due_and_payload_follow_a_reschedule(new_due: float) -> None:
    index = TimerIndex()
    index.schedule("x", 10.0, "old")
    index.schedule("x", new_due, "new")
    assert index.due_of("x") == new_due
    assert index.payload_of("x") == "new"


def test_due_and_payload_are_gone_after_cancel() -> None:
    index = TimerIndex()
    index.schedule("x", 10.0, "X")
    index.schedule("y", 20.0, "Y")
    index.cancel("x")
    assert (index.due_of("x"), index.payload_of("x")) == (None, None)
    assert (index.due_of("y"), index.payload_of("y")) == (20.0, "Y")
    index.schedule("x", 30.0, "X2")
    assert (index.due_of("x"), index.payload_of("x")) == (30.0, "X2")


def test_due_and_payload_are_gone_once_fired() -> None:
    index = TimerIndex()
    index.schedule("x", 10.0, "X")
    index.schedule("y", 20.0, "Y")
    index.pop_due(15.0)
    assert (index.due_of("x"), index.payload_of("x")) == (None, None)
    assert (index.due_of("y"), index.payload_of("y")) == (20.0, "Y")
