"""Retention timers, legal holds and lifecycle commands (policy section 3.1).

Every valid order or log record under a retention rule gets a deadline (:class:`Timer`, see
processors/retention/timers.py). Deadlines live in :class:`TimerStore` (streams/state/timers.py),
one timer index per input partition this worker owns, backed by the compacted topic ``<app
id>-retention-timers-changelog`` (key: the timer id; value: the timer; a tombstone once it has
fired) and restored on assignment, like the subject secrets. A new or moved deadline reaches the
changelog before the input batch that set it is committed.

:class:`Retention` fires due timers. For each it publishes the lifecycle command and its audit
record, waits until the broker has both, and only then tombstones the timer: a worker killed in
between fires it again after recovery, with the same command id (derived from the timer id and
deadline), which store agents apply once. Deadlines that passed while no worker ran fire as soon
as their partition is restored.

Legal holds are events on ``legal-holds.v1`` keyed by ``customer_id`` (so a subject's holds are on
the partition of its records). :class:`HoldStore` (streams/state/holds.py) replays a partition's
holds on assignment; new ones arrive through the ingest consumer (:class:`HoldHandler`), are
audited, and a release puts the timers it suspended back in the index, where the overdue ones fire
on the next tick."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from processors.records import hold_audit
from processors.retention.firing import Firing, fire
from processors.retention.holds import Hold, Holds
from processors.retention.timers import RetentionPlan, Timer
from streams.metrics import Metrics
from streams.outputs import Outgoing, publish_all
from streams.producer import Producer
from streams.settings import Settings
from streams.state.holds import HoldStore
from streams.state.timers import TimerStore

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1
FIRE_LIMIT = 5_000   # timers fired per tick at most; the rest fire on the next one, 0.1 s later


class Retention:
    """Fires due timers into lifecycle commands and audit records."""

    def __init__(self, settings: Settings, plan: RetentionPlan, timers: TimerStore, holds: HoldStore,
                 producer: Callable[[], Producer], metrics: Metrics,
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
        try:
            due: list[tuple[int, Timer, list[Hold]]] = []
            for partition, timer_id, _, raw in popped:
                timer = Timer.decode(timer_id, raw)
                due.append((partition, timer, self.holds.holding(timer)))
            firing = fire(due, now)
            # retried with the shared backoff until the broker has every command and audit record
            await publish_all(self.producer, self._outgoing(firing, now), "lifecycle commands and audit records")
        except Exception:
            for partition, timer_id, due_at, raw in popped:   # not tombstoned: they are due again next tick
                self.timers.index(partition).schedule(timer_id, due_at, raw)
            raise
        raw_of = {(partition, timer_id): raw for partition, timer_id, _, raw in popped}
        for partition, timer_id in firing.park:   # kept (not tombstoned) until a release puts it back
            self.timers.parked.setdefault(partition, {})[timer_id] = raw_of[(partition, timer_id)]
        for partition, timer_id in firing.tombstone:
            self.timers.stage(partition, timer_id.encode(), None)
        await self.timers.flush()
        m = self.metrics
        per_rule: dict[tuple[str, str], int] = {}   # counted once per rule and tick, not per timer
        for fired in firing.fired:
            rule = (fired.timer.rule, fired.timer.action)
            per_rule[rule] = per_rule.get(rule, 0) + 1
            m.firing_lateness.labels(fired.timer.rule).observe(fired.lateness)
        per_action: dict[str, int] = {}
        for (rule_name, action), count in per_rule.items():
            m.timers_fired.labels(rule_name, action).inc(count)
            per_action[action] = per_action.get(action, 0) + count
        for action, count in per_action.items():
            m.commands_emitted.labels(action, "retention").inc(count)
        self.timers.report()
        return len(firing.fired)

    def _outgoing(self, firing: Firing, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for fired in firing.fired:
            key = fired.key.encode()
            # on the timer's partition: store agents ack on the command's partition, to this worker
            out.append((self.commands_topic, orjson.dumps(fired.command), key, fired.partition, None))
            out.append((self.audit_topic, orjson.dumps(fired.audit), key, fired.partition, None))
            self.unacked.setdefault(fired.command["command_id"], now)
        out += [(self.audit_topic, orjson.dumps(suspended.audit), suspended.key.encode(), None, None)
                for suspended in firing.suspended]
        return out

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
