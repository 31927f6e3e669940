"""TimerStore and Retention against the embedded broker, in process: the crash window is hit exactly.

A worker can die after its commands reach the broker and before the fired timers' tombstones do.
Here that moment is forced (the tombstone write raises), a fresh store is restored from the
changelog as a restarted worker would, and the timers fire again under the same command ids.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from support import own_topics

from processors.inputs import Inputs
from processors.retention.holds import Hold
from processors.retention.timers import RetentionPlan, Timer
from processors.schemas import SchemaCatalog, default_schema_dir
from streams.broker import EmbeddedBroker
from streams.client import read
from streams.metrics import Metrics
from streams.producer import Producer, producer_config
from streams.retention import Retention
from streams.settings import Settings
from streams.state.holds import HoldStore
from streams.state.timers import TimerStore, timers_topic

pytestmark = pytest.mark.integration

INPUTS = Inputs(SchemaCatalog.load(default_schema_dir()))


class Crash(Exception):
    pass


class CrashingTimers(TimerStore):
    """Dies on the first write of tombstones, after the commands were published."""

    async def flush(self) -> None:
        if any(value is None for _, _, value in self._pending):
            raise Crash
        await super().flush()


def timer(n: int, due: float, subject: str = "c1") -> Timer:
    return Timer(f"logs/e{n}", "logs", "delete", "logs", subject, f"e{n}", (), due)


async def scenario(bootstrap: str, settings: Settings) -> tuple[int, int]:
    producer = Producer(producer_config(bootstrap, "test", 1_048_576, linger_ms=5))
    plan = RetentionPlan({})
    try:
        first = CrashingTimers(bootstrap, timers_topic(settings), Metrics())
        holds = HoldStore(bootstrap, settings.topics.name("legal-holds.v1"), first.metrics, inputs=INPUTS)
        await first.start()
        await holds.restore({0, 1})
        await first.restore({0, 1})
        past = time.time() - 5
        for n in range(40):
            first.schedule(n % 2, timer(n, past + n * 0.01))
        first.schedule(0, timer(99, time.time() + 3600))   # not due
        await first.flush()
        retention = Retention(settings, plan, first, holds, lambda: producer, first.metrics)
        with pytest.raises(Crash):
            await retention.tick()
        await first.stop()

        second = TimerStore(bootstrap, timers_topic(settings), Metrics())   # the restarted worker
        await second.start()
        await second.restore({0, 1})
        restored = second.pending_count()
        again = Retention(settings, plan, second, holds, lambda: producer, second.metrics)
        fired = await again.tick()
        await second.stop()

        third = TimerStore(bootstrap, timers_topic(settings), Metrics())   # and once more: all tombstoned
        await third.restore({0, 1})
        assert third.pending_count() == 1 and third.indexes[0].due_of("logs/e99") is not None
        return restored, fired
    finally:
        await producer.stop(within=5)


def test_a_crash_between_publishing_and_tombstoning_refires_the_same_commands(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = own_topics(broker.bootstrap, "crash", tmp_path)
    prefix = settings.topics.prefix
    restored, fired = asyncio.run(scenario(broker.bootstrap, settings))
    assert (restored, fired) == (41, 40)
    commands = [json.loads(r.value or b"") for r in read(broker.bootstrap, [prefix + "lifecycle.commands.v1"],
                                                         expect=80, timeout=30)]
    assert len(commands) == 80
    by_id: dict[str, list[dict[str, object]]] = {}
    for command in commands:
        by_id.setdefault(str(command["command_id"]), []).append(command)
    assert len(by_id) == 40 and all(len(twice) == 2 for twice in by_id.values())
    for first, second in by_id.values():   # identical but for the time of issue
        assert {**first, "issued_at": ""} == {**second, "issued_at": ""}


def test_a_held_timer_waits_for_its_release(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = own_topics(broker.bootstrap, "held", tmp_path)
    prefix = settings.topics.prefix

    async def run() -> tuple[int, int, int, int]:
        producer = Producer(producer_config(broker.bootstrap, "test", 1_048_576, linger_ms=5))
        timers = TimerStore(broker.bootstrap, timers_topic(settings), Metrics())
        holds = HoldStore(broker.bootstrap, settings.topics.name("legal-holds.v1"), timers.metrics,
                          inputs=INPUTS)
        await timers.start()
        try:
            await holds.restore({0})
            await timers.restore({0})
            retention = Retention(settings, RetentionPlan({}), timers, holds, lambda: producer, timers.metrics)
            place = Hold("h1", "place", "held", None, "CASE-9", "2026-11-24T00:00:00Z")
            holds.partitions[0].apply(place)
            timers.schedule(0, timer(1, time.time() - 1, subject="held"))
            timers.schedule(0, timer(2, time.time() - 1, subject="free"))
            fired = await retention.tick()
            parked = timers.held_count()
            holds.partitions[0].apply(Hold("h1", "release", "held", None, "CASE-9", "2026-11-24T00:00:01Z"))
            moved = retention.release(0)
            return fired, parked, moved, await retention.tick()
        finally:
            await timers.stop()
            await producer.stop(within=5)

    assert asyncio.run(run()) == (1, 1, 1, 1)
    audit = [json.loads(r.value or b"") for r in read(broker.bootstrap, [prefix + "privacy.audit.v1"],
                                                      expect=3, timeout=30)]
    assert sorted(e["action"] for e in audit) == ["command", "command", "suspended"]


def test_the_holds_named_for_a_timer_are_only_those_covering_it() -> None:
    holds = HoldStore("unused:9092", "legal-holds.v1", Metrics(), inputs=INPUTS)
    holds.load(0, [])
    for hold in (Hold("h-a", "place", "a", None, "C1", "2026-11-24T00:00:00Z"),
                 Hold("h-b", "place", "b", None, "C2", "2026-11-24T00:00:00Z"),
                 Hold("h-o", "place", "b", "ORD-1", "C3", "2026-11-24T00:00:00Z")):
        holds.partitions[0].apply(hold)
    log_a = Timer("logs/e1", "logs", "delete", "logs", "a", "e1", (), 0.0)
    order_b = Timer("orders-completed/ORD-1", "orders-completed", "anonymize", "orders", "b", "ORD-1", (), 0.0)
    anonymous = Timer("logs/e2", "logs", "delete", "logs", "", "e2", (), 0.0)
    assert [h.hold_id for h in holds.holding(log_a)] == ["h-a"]
    assert sorted(h.hold_id for h in holds.holding(order_b)) == ["h-b", "h-o"]
    assert holds.holding(anonymous) == []
