"""Retention.tick's metrics, counted once per rule and tick (not per timer), no broker: the same
values as one increment per fired timer."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, cast

from processors.inputs import Inputs
from processors.retention.timers import RetentionPlan, Timer
from processors.schemas import SchemaCatalog, default_schema_dir
from streams.metrics import Metrics
from streams.retention import Retention
from streams.settings import Settings
from streams.state.holds import HoldStore
from streams.state.timers import TimerStore

NOW = 2_000_000_000.0


class Batch:
    def __init__(self, sent: list[Any]) -> None:
        self.sent = sent

    def send(self, *record: Any) -> None:
        self.sent.append(record)

    async def delivered(self) -> list[Any]:
        return []


class Producer:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def batch(self) -> Batch:
        return Batch(self.sent)


class Timers(TimerStore):
    async def flush(self) -> None:   # the changelog's tombstones: kept here
        self.flushed, self._pending = list(self._pending), []


def test_tick_counts_every_fired_timer() -> None:
    settings = Settings.from_env({"LETHE_PSEUDONYM_KEY": "ab" * 32})
    metrics = Metrics()
    timers = Timers("unused:9092", "timers", metrics)
    holds = HoldStore("unused:9092", "holds", metrics, inputs=Inputs(SchemaCatalog.load(default_schema_dir())))
    producer = Producer()
    retention = Retention(settings, RetentionPlan({}), timers, holds, cast(Any, lambda: producer), metrics,
                          clock=lambda: NOW)
    kinds = [("logs", "delete"), ("orders-completed", "anonymize"), ("orders-cancelled", "delete"), ("logs", "delete")]
    scheduled = [Timer(f"{rule}/r{n}", rule, action, rule.split("-")[0], "c1", f"r{n}", (), NOW - n * 1.5)
                 for n, (rule, action) in enumerate(kinds * 5)]
    for n, timer in enumerate(scheduled):
        timers.schedule(n % 3, timer)
    timers.schedule(0, Timer("logs/later", "logs", "delete", "logs", "c1", "later", (), NOW + 60))   # not due

    assert asyncio.run(retention.tick()) == len(scheduled)

    def value(name: str, **labels: str) -> float:
        found = metrics.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    fired = Counter((t.rule, t.action) for t in scheduled)
    for (rule, action), count in fired.items():
        assert value("lethe_retention_timers_fired_total", rule=rule, action=action) == count
        assert value("lethe_retention_firing_lateness_seconds_count", rule=rule) == count
        assert value("lethe_retention_firing_lateness_seconds_sum", rule=rule) == sum(
            NOW - t.due for t in scheduled if t.rule == rule)
    for action, count in Counter(t.action for t in scheduled).items():
        assert value("lethe_lifecycle_commands_emitted_total", action=action, cause="retention") == count
    assert value("lethe_retention_firing_lateness_seconds_bucket", rule="logs", le="5.0") == 2
    assert len(producer.sent) == 2 * len(scheduled)   # a command and its audit record each
    assert sum(1 for _, _, value in timers.flushed if value is None) == len(scheduled)   # tombstones
