"""Retention timers, legal holds and lifecycle commands (policy section 3.1).

Every valid order or log record under a retention rule gets a deadline (:class:`Timer`, see
processors/retention/timers.py). Deadlines live in :class:`TimerStore`, one timer index per input
partition this worker owns, backed by the compacted topic ``<app id>-retention-timers-changelog``
(key: the timer id; value: the timer; a tombstone once it has fired) and restored on assignment,
like the subject secrets. A new or moved deadline reaches the changelog before the input batch
that set it is committed.

:class:`Retention` fires due timers. For each it publishes the lifecycle command and its audit
record, waits until the broker has both, and only then tombstones the timer: a worker killed in
between fires it again after recovery, with the same command id (derived from the timer id and
deadline), which store agents apply once. Deadlines that passed while no worker ran fire as soon
as their partition is restored.

Legal holds are events on ``legal-holds.v1`` keyed by ``customer_id`` (so a subject's holds are on
the partition of its records). :class:`HoldStore` replays a partition's holds on assignment; new
ones arrive through the ingest consumer (:class:`HoldHandler`), are audited, and a release puts the
timers it suspended back in the index, where the overdue ones fire on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processors.errors import InvalidRecord
from processors.inputs import Inputs
from processors.records import hold_audit
from processors.retention.firing import Firing, fire
from processors.retention.holds import Hold, Holds
from processors.retention.timers import RetentionPlan, Timer
from processors.time import iso
from processors.timers import TimerIndex
from streams.changelog import Outgoing, PartitionedState
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import changelog_name

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1
FIRE_LIMIT = 5_000   # timers fired per tick at most; the rest fire on the next one, 0.1 s later


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


def index_factory(settings: Settings) -> Callable[[int], Index]:
    if settings.table_store.startswith("rocksdb://"):
        from streams.timerdb import RocksTimerIndex
        root = settings.data_dir / "state" / settings.app_id
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


class HoldStore(PartitionedState):
    """The legal holds in force on the partitions this worker owns (replayed from legal-holds.v1)."""

    what = "legal holds"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics, *, inputs: Inputs) -> None:
        super().__init__(bootstrap, topic, write=False)
        self.metrics, self.inputs = metrics, inputs
        self.partitions: dict[int, Holds] = {}

    def load(self, partition: int, records: list[Any]) -> None:
        holds = self.partitions.setdefault(partition, Holds())
        for record in records:
            with contextlib.suppress(InvalidRecord):   # the HoldHandler dead-lettered it
                holds.apply(self.inputs.hold(record.value))

    def restored(self, partitions: list[int]) -> None:
        self.report()

    def drop(self, partition: int) -> None:
        self.partitions.pop(partition, None)
        self.report()

    def holding(self, timer: Timer) -> list[Any]:
        """The holds in force that cover ``timer`` (any owned partition: upstream may key loosely)."""
        found = []
        for holds in self.partitions.values():
            if holds.holding(timer):
                found += [h for h in holds.active.values()
                          if (h.order_id is not None and h.order_id == timer.order_id)
                          or (h.order_id is None and timer.subject and h.subject == timer.subject)]
        return found

    def report(self) -> None:
        self.metrics.holds_active.set(sum(len(h.active) for h in self.partitions.values()))


class Retention:
    """Fires due timers into lifecycle commands and audit records."""

    def __init__(self, settings: Settings, plan: RetentionPlan, timers: TimerStore, holds: HoldStore,
                 producer: Callable[[], AIOKafkaProducer], metrics: Metrics,
                 clock: Callable[[], float] = time.time) -> None:
        self.plan, self.timers, self.holds = plan, timers, holds
        self.producer, self.metrics, self.clock = producer, metrics, clock
        self.commands_topic = settings.topics.name("lifecycle.commands.v1")
        self.audit_topic = settings.topics.name("privacy.audit.v1")
        self.unacked: dict[str, float] = {}   # command id -> issue time, until a store acks it

    def schedule(self, family: str, records: Sequence[tuple[int, dict[str, Any]]]) -> int:
        """Set the deadlines of valid ``(partition, record)`` pairs; return how many changed."""
        timers: list[tuple[int, Timer]] = []
        timers_for = self.plan.timers_for
        for partition, record in records:
            try:
                timers += [(partition, timer) for timer in timers_for(family, record)]
            except ValueError:   # validated records carry RFC 3339 times; count any that slip by
                self.metrics.timers_unscheduled.labels(family).inc()
        return self.schedule_timers(timers)

    def schedule_timers(self, timers: Sequence[tuple[int, Timer]]) -> int:
        """Set the ``(partition, timer)`` deadlines; return how many changed (staged for the changelog)."""
        changed = 0
        schedule = self.timers.schedule
        per_rule: dict[str, int] = {}
        for partition, timer in timers:
            if schedule(partition, timer):
                changed += 1
                per_rule[timer.rule] = per_rule.get(timer.rule, 0) + 1
        for rule, count in per_rule.items():   # one metric call per rule and batch, not per timer
            self.metrics.timers_scheduled.labels(rule).inc(count)
        if changed:
            self.timers.report()
        return changed

    async def tick(self) -> int:
        """Fire what is due now (at most FIRE_LIMIT); return how many commands were published."""
        now = self.clock()
        popped: list[tuple[int, str, float, bytes]] = []
        for partition, index in self.timers.indexes.items():
            if len(popped) >= FIRE_LIMIT:
                break
            popped += [(partition, str(timer_id), due, raw)
                       for timer_id, due, raw in index.pop_due(now, FIRE_LIMIT - len(popped))]
        if not popped:
            return 0
        firing = Firing()
        try:
            due: list[tuple[int, Timer, list[Hold]]] = []
            for partition, timer_id, _, raw in popped:
                timer = Timer.decode(timer_id, raw)
                due.append((partition, timer, self.holds.holding(timer)))
            firing = fire(due, now)
            await self._publish(firing, now)
        except Exception as exc:
            for partition, timer_id, due_at, raw in popped:   # not tombstoned: they are due again next tick
                self.timers.index(partition).schedule(timer_id, due_at, raw)
            if not isinstance(exc, KafkaError):
                raise
            log.warning("publishing %d lifecycle commands failed (%s); retrying", len(firing.fired),
                        type(exc).__name__)
            await asyncio.sleep(0.5)
            return 0
        raw_of = {(partition, timer_id): raw for partition, timer_id, _, raw in popped}
        for partition, timer_id in firing.park:   # kept (not tombstoned) until a release puts it back
            self.timers.parked.setdefault(partition, {})[timer_id] = raw_of[(partition, timer_id)]
        for partition, timer_id in firing.tombstone:
            self.timers.stage(partition, timer_id.encode(), None)
        await self.timers.flush()
        m = self.metrics
        for fired in firing.fired:
            m.timers_fired.labels(fired.timer.rule, fired.timer.action).inc()
            m.firing_lateness.labels(fired.timer.rule).observe(fired.lateness)
            m.commands_emitted.labels(fired.timer.action, "retention").inc()
        self.timers.report()
        return len(firing.fired)

    async def _publish(self, firing: Firing, now: float) -> None:
        producer = self.producer()
        futures = []
        for fired in firing.fired:
            key = fired.key.encode()
            # on the timer's partition: store agents ack on the command's partition, to this worker
            futures.append(await producer.send(self.commands_topic, orjson.dumps(fired.command), key=key,
                                               partition=fired.partition))
            futures.append(await producer.send(self.audit_topic, orjson.dumps(fired.audit), key=key,
                                               partition=fired.partition))
            self.unacked.setdefault(fired.command["command_id"], now)
        for suspended in firing.suspended:
            futures.append(await producer.send(self.audit_topic, orjson.dumps(suspended.audit),
                                               key=suspended.key.encode()))
        await asyncio.gather(*futures)

    def release(self, partition: int) -> int:
        """Put the timers no hold covers any more back in the index (overdue ones fire next tick)."""
        moved = 0
        for p, parked in self.timers.parked.items():
            index = self.timers.indexes.get(p)
            if index is None:
                continue
            for timer_id, raw in list(parked.items()):
                timer = Timer.decode(timer_id, raw)
                if not self.holds.holding(timer):
                    del parked[timer_id]
                    index.schedule(timer_id, timer.due, raw)
                    moved += 1
        self.timers.report()
        return moved

    def ack(self, command_id: str, store: str, status: str) -> None:
        """Count a store agent's ack; a command acked by any store stops being unacknowledged."""
        self.metrics.acks.labels(store, status).inc()
        if status != "failed":
            self.unacked.pop(command_id, None)

    def report_unacked(self) -> None:
        self.metrics.commands_unacked.set(len(self.unacked))
        oldest = min(self.unacked.values(), default=None)
        self.metrics.oldest_unacked.set(0.0 if oldest is None else max(self.clock() - oldest, 0.0))


class HoldHandler:
    """legal-holds.v1 records (through an InputHandler): apply, audit, then release timers and resume
    the erasures a released hold suspended."""

    def __init__(self, holds: HoldStore, retention: Retention,
                 on_release: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.on_release = on_release   # resumes the subject's erasures the hold suspended
        self.holds, self.retention = holds, retention
        self._released: set[int] = set()
        self._releases: list[str] = []

    def act(self, message: Any, hold: Hold, now: float) -> list[Outgoing]:
        holds = self.holds.partitions.setdefault(message.partition, Holds())
        holds.apply(hold)   # a no-op when the partition's restore already read it
        if hold.action == "release":
            self._released.add(message.partition)
            self._releases.append(hold.subject)
        # audited whenever delivered: the restore may have applied it before any audit was
        # written; the audit id is deterministic, so a repeat is recognizable
        return [(self.retention.audit_topic, orjson.dumps(hold_audit(hold, now)), hold.subject.encode(), None, None)]

    async def finish(self) -> None:
        released, releases = self._released, self._releases
        self._released, self._releases = set(), []
        for partition in released:
            self.retention.release(partition)
        if self.on_release is not None:
            for subject in releases:
                await self.on_release(subject)
        self.holds.report()
