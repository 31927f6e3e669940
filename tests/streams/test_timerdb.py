"""RocksTimerIndex (real RocksDB files) behaves exactly like the in-memory TimerIndex."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from processors.timers import TimerIndex
from streams.state.timerdb import RocksTimerIndex

pytest.importorskip("rocksdict")   # the rocksdb extra; installed by scripts/setup (dev)


def test_rocks_index_matches_the_memory_index_operation_by_operation(tmp_path: Path) -> None:
    rng = random.Random(3)
    memory, rocks = TimerIndex(), RocksTimerIndex(tmp_path / "p0")
    now = 0.0
    for step in range(5000):
        timer_id = f"rule/{rng.randrange(400)}"
        op = rng.random()
        if op < 0.55:
            due = now + rng.random() * 50
            memory.schedule(timer_id, due, f"payload-{step}".encode())
            rocks.schedule(timer_id, due, f"payload-{step}".encode())
        elif op < 0.7:
            assert memory.cancel(timer_id) == rocks.cancel(timer_id)
        else:
            now += rng.random() * 3
            limit = rng.choice([None, 1, 5])
            assert rocks.pop_due(now, limit) == memory.pop_due(now, limit)
        assert len(rocks) == len(memory)
        assert rocks.due_of(timer_id) == memory.due_of(timer_id)
        assert rocks.payload_of(timer_id) == memory.payload_of(timer_id)
        assert (timer_id in rocks) == (timer_id in memory)
    assert rocks.next_due() == memory.next_due()
    rocks.close()
    assert not (tmp_path / "p0").exists()


def test_a_reopened_index_starts_empty(tmp_path: Path) -> None:
    first = RocksTimerIndex(tmp_path / "p1")
    first.schedule("a", 1.0, b"x")
    first.close(destroy=False)
    again = RocksTimerIndex(tmp_path / "p1")   # rebuilt from the changelog, never trusted from disk
    assert len(again) == 0 and again.pop_due(10.0) == [] and again.next_due() is None
    again.close()


def test_deadlines_sort_numerically_not_lexically(tmp_path: Path) -> None:
    rocks = RocksTimerIndex(tmp_path / "p2")
    for due in (1e10, 9.5, 100.25, 0.0, 2e9):
        rocks.schedule(f"t{due}", due, b"")
    assert [due for _, due, _ in rocks.pop_due(1e11)] == [0.0, 9.5, 100.25, 2e9, 1e10]
    rocks.close()
