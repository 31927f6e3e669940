"""TimerStore.schedule against its first version (kept here as the reference), no broker: the same answers,
the same index, the same parked timers and the same changelog records, in the same order."""

from __future__ import annotations

from typing import Any

import pytest

from processors.retention.timers import Timer
from streams.metrics import Metrics
from streams.state.timers import TimerStore


class ReferenceStore(TimerStore):
    def schedule(self, partition: int, timer: Timer) -> bool:
        index = self.index(partition)
        parked = self.parked.setdefault(partition, {})
        current = index.due_of(timer.timer_id)
        if current is None and timer.timer_id in parked:
            current = Timer.decode(timer.timer_id, parked[timer.timer_id]).due
        if current is not None and current >= timer.due:
            return False
        raw = timer.encode()
        parked.pop(timer.timer_id, None)
        index.schedule(timer.timer_id, timer.due, raw)
        self.stage(partition, timer.timer_id.encode(), raw)
        return True


def timer(key: str, due: float, rule: str = "logs") -> Timer:
    return Timer(f"{rule}/{key}", rule, "delete", "logs", "c1", key, (), due)


# (partition, timer) to schedule, in order; PARKED: suspended by a hold before the first
STEPS = [(0, timer("a", 10.0)), (0, timer("a", 10.0)), (0, timer("a", 5.0)), (0, timer("a", 11.5)),
         (1, timer("a", 3.0)), (1, timer("b", 20.0)), (1, timer("b", 19.0)), (1, timer("b", 21.0)),
         (0, timer("held-late", 40.0)), (0, timer("held-late", 60.0)), (0, timer("held-early", 10.0)),
         (2, timer("held-other", 1.0)), (2, timer("fresh", 2.0, "other")), (3, timer("x", 1.0)),
         (0, timer("a", 12.0, "other")), (1, timer("held-late", 70.0))]
PARKED = {0: {"logs/held-late": timer("held-late", 50.0).encode(),
              "logs/held-early": timer("held-early", 30.0).encode()},
          2: {"logs/held-other": timer("held-other", 5.0).encode()}, 1: {}}


def run(store: TimerStore, parked: dict[int, dict[str, bytes]]) -> tuple[Any, ...]:
    store.parked = {p: dict(timers) for p, timers in parked.items()}
    store.index(0)   # partition 0 restored; the others get their index on first use
    answers = [store.schedule(partition, t) for partition, t in STEPS]
    indexes = {p: sorted(map(tuple, index.items())) for p, index in store.indexes.items()}
    held = {p: timers for p, timers in store.parked.items() if timers}   # the reference left empty ones behind
    return answers, indexes, held, list(store._pending), store.pending_count(), store.held_count()


@pytest.mark.parametrize("parked", [PARKED, {}], ids=["with parked timers", "none parked"])
def test_schedule_is_the_reference(parked: dict[int, dict[str, bytes]]) -> None:
    new = run(TimerStore("unused:9092", "timers", Metrics()), parked)
    assert new == run(ReferenceStore("unused:9092", "timers", Metrics()), parked)
    answers = new[0]
    assert True in answers and False in answers   # the steps move, keep and refuse deadlines
    if parked:
        # not moved earlier: still parked; moved later: back in the index
        assert new[2] == {0: {"logs/held-early": PARKED[0]["logs/held-early"]}, 2: PARKED[2]}
