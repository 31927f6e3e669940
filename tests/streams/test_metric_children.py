"""Kept labelled children (streams/metrics.py): /metrics shows what prometheus_client's own labels() would,
and a removed series is never kept, counted into or shown again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from streams.metrics import Counter, Histogram, Metrics

Step = Callable[[Any, Any], object]   # (counter, histogram)

STEPS: list[tuple[str, Step]] = [
    ("inc", lambda c, h: c.labels("orders.v1", "json").inc()),
    ("inc again", lambda c, h: c.labels("orders.v1", "json").inc(3)),
    ("an int label", lambda c, h: c.labels("logs.v1", 7).inc()),
    ("its str", lambda c, h: c.labels("logs.v1", "7").inc(2)),
    ("by name", lambda c, h: c.labels(topic="orders.v1", rule="json").inc(5)),
    ("unhashable", lambda c, h: c.labels("logs.v1", ["x"]).inc()),
    ("observe", lambda c, h: h.labels("orders.v1").observe(0.3)),
    ("remove", lambda c, h: c.remove("orders.v1", "json")),
    ("after remove", lambda c, h: c.labels("orders.v1", "json").inc(11)),
    ("remove, add another by name", lambda c, h: (c.remove("logs.v1", "7"), c.labels(topic="a", rule="b").inc())),
    ("after both", lambda c, h: (c.labels("logs.v1", 7).inc(13), c.labels("a", "b").inc())),
    ("remove by labels", lambda c, h: c.remove_by_labels({"topic": "a"})),
    ("after that", lambda c, h: c.labels("a", "b").inc(17)),
    ("clear", lambda c, h: (c.clear(), h.clear())),
    ("after clear", lambda c, h: (c.labels("orders.v1", "json").inc(19), h.labels("orders.v1").observe(2.0))),
    ("a series at 0", lambda c, h: c.labels("logs.v1", "max_size")),
]


def exposition(counter_type: Any, histogram_type: Any, steps: int) -> list[str]:
    registry = CollectorRegistry()
    counter = counter_type("lethe_t", "t", ["topic", "rule"], registry=registry)
    histogram = histogram_type("lethe_h", "h", ["topic"], buckets=(0.5, 1.0), registry=registry)
    for _, step in STEPS[:steps]:
        step(counter, histogram)
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


@pytest.mark.parametrize("steps", range(1, len(STEPS) + 1), ids=[name for name, _ in STEPS])
def test_metrics_show_what_prometheus_client_would(steps: int) -> None:
    kept = exposition(Counter, Histogram, steps)
    assert kept == exposition(prometheus_client.Counter, prometheus_client.Histogram, steps)
    assert any(line.startswith("lethe_t_total{") for line in kept) or steps == 14


def test_a_removed_child_is_not_kept() -> None:
    counter = Counter("lethe_lag", "l", ["topic", "partition"], registry=CollectorRegistry())
    first = counter.labels("orders.v1", "0")
    first.inc(5)
    assert counter.labels("orders.v1", "0") is first
    counter.remove("orders.v1", "0")
    again = counter.labels("orders.v1", "0")
    again.inc()
    assert again is not first and again._value.get() == 1
    assert counter.labels("orders.v1", "0") is again


def test_errors_are_prometheus_clients() -> None:
    counter = Counter("lethe_c", "c", ["topic"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="Incorrect label count"):
        counter.labels("a", "b")
    with pytest.raises(ValueError, match="already has labels set"):
        counter.labels("a").labels("b")
    with pytest.raises(ValueError, match="No label names"):
        Counter("lethe_n", "n", registry=CollectorRegistry()).labels("a")


def test_the_worker_keeps_the_children_of_its_per_record_series() -> None:
    metrics = Metrics()
    for series in (metrics.records_in, metrics.records_out, metrics.records_dead, metrics.fields_tagged,
                   metrics.records_gated, metrics.unknown_fields, metrics.unknown_personal, metrics.transfers,
                   metrics.timers_scheduled, metrics.timers_fired, metrics.commands_emitted, metrics.acks,
                   metrics.batch_seconds, metrics.batch_size, metrics.event_latency, metrics.firing_lateness):
        assert series.labels(*["x"] * len(series._labelnames)) is series.labels(*["x"] * len(series._labelnames))
