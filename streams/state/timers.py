"""Retention deadlines of the partitions a worker owns, backed by ``<app id>-retention-timers-changelog``
(key: the timer id; value: the timer; a tombstone once it has fired). The index is in memory or,
with ``LETHE_TABLE_STORE=rocksdb://``, in RocksDB (streams/state/timerdb.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import orjson

from processors.retention.timers import Timer
from processors.time import iso
from processors.timers import TimerIndex
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState
from streams.state.maps import Maps
from streams.topics import changelog_name

log = logging.getLogger(__name__)


def timers_topic(settings: Settings) -> str:
    return changelog_name(settings, "timers")


class Index(Protocol):
    """TimerIndex (memory) or RocksTimerIndex (LETHE_TABLE_STORE=rocksdb://)."""

    def __len__(self) -> int: ...
    def schedule(self, timer_id: Hashable, due: float, payload: Any = None) -> None: ...
    def cancel(self, timer_id: Hashable) -> bool: ...
    def due_of(self, timer_id: Hashable) -> float | None: ...
    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Hashable, float, Any]]: ...
    def items(self) -> list[tuple[Hashable, float, Any]]: ...


def index_factory(settings: Settings, maps: Maps | None = None) -> Callable[[int], Index]:
    """With rocksdb://, the indexes live beside the process's other maps (``maps``: its slot, see
    streams/state/maps.py)."""
    if settings.table_store.startswith("rocksdb://"):
        from streams.state.timerdb import RocksTimerIndex
        root = settings.data_dir / "state" / settings.app_id
        if maps is not None and maps.root is not None:
            root = maps.root
        return lambda partition: RocksTimerIndex(root / f"timers-p{partition}")
    return lambda partition: TimerIndex()


class TimerStore(PartitionedState):
    """The pending deadlines of the partitions this worker owns."""

    what = "retention timers"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics,
                 new_index: Callable[[int], Index] = lambda partition: TimerIndex()) -> None:
        super().__init__(bootstrap, topic)
        self.metrics, self.new_index = metrics, new_index
        self.indexes: dict[int, Index] = {}
        self.parked: dict[int, dict[str, bytes]] = {}   # suspended by a legal hold: timer id -> timer

    def index(self, partition: int) -> Index:
        index = self.indexes.get(partition)
        if index is None:
            index = self.indexes[partition] = self.new_index(partition)
        return index

    def load(self, partition: int, records: list[Any]) -> None:
        index = self.index(partition)
        parked = self.parked.setdefault(partition, {})
        for record in records:
            timer_id = record.key.decode()
            parked.pop(timer_id, None)
            if record.value is None:
                index.cancel(timer_id)
            else:
                index.schedule(timer_id, orjson.loads(record.value)[-1], record.value)

    def restored(self, partitions: list[int]) -> None:
        # caught up (streams/state/base.py): a parked timer is pending in the changelog, as a restore from
        # the beginning would have it; back in the index, the next tick asks the holds again
        for partition in partitions:
            index = self.index(partition)
            for timer_id, raw in self.parked.pop(partition, {}).items():
                index.schedule(timer_id, Timer.decode(timer_id, raw).due, raw)
        self.report()

    def drop(self, partition: int) -> None:
        index = self.indexes.pop(partition, None)
        close = getattr(index, "close", None)
        if close is not None:
            close()
        self.parked.pop(partition, None)
        self.report()

    async def stop(self) -> None:
        for partition in list(self.indexes):
            self.drop(partition)
        await super().stop()

    def schedule(self, partition: int, timer: Timer) -> bool:
        """Set a deadline; a repeated trigger never moves it earlier. True if it changed."""
        index = self.indexes.get(partition)
        if index is None:
            index = self.index(partition)
        parked = self.parked.get(partition)
        timer_id, due = timer.timer_id, timer.due
        current = index.due_of(timer_id)
        if current is None and parked and timer_id in parked:
            current = Timer.decode(timer_id, parked[timer_id]).due
        if current is not None and current >= due:
            return False
        raw = timer.encode()
        if parked:
            parked.pop(timer_id, None)
        index.schedule(timer_id, due, raw)
        self.stage(partition, timer_id.encode(), raw)
        return True

    def for_subject(self, subject: str, partition: int | None = None) -> list[dict[str, Any]]:
        """The subject's pending deadlines (a scan of every timer held: for access exports only)."""
        found: list[dict[str, Any]] = []
        indexes = self.indexes.values() if partition is None else [self.index(partition)]
        for index in indexes:
            for timer_id, due, raw in index.items():
                timer = Timer.decode(str(timer_id), raw)
                if timer.subject == subject:
                    found.append({"timer": timer.timer_id, "rule": timer.rule, "action": timer.action,
                                  "family": timer.family, "record_key": timer.record_key, "due_at": iso(due)})
        for parked in self.parked.values():
            for timer_id, raw in parked.items():
                timer = Timer.decode(timer_id, raw)
                if timer.subject == subject:
                    found.append({"timer": timer.timer_id, "rule": timer.rule, "action": timer.action,
                                  "family": timer.family, "record_key": timer.record_key,
                                  "due_at": iso(timer.due), "suspended_by_hold": True})
        return found

    def pending_count(self) -> int:
        return sum(len(i) for i in self.indexes.values()) + self.held_count()

    def held_count(self) -> int:
        return sum(len(p) for p in self.parked.values())

    def report(self) -> None:
        self.metrics.timers_pending.set(self.pending_count())
        self.metrics.timers_held.set(self.held_count())
