"""Two workers share the input partitions; when one dies the other takes its subjects and timers over intact.

(Open requests handed over to another worker: tests/streams/test_erasure_durability.py.)
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from leaky import LeakyTraffic
from sqlalchemy import create_engine, func, select
from support import (
    LOGS_AFTER_20S,
    FakeClock,
    Service,
    Worker,
    keys_by_event,
    policy_with,
    unique_prefix,
    wait_for,
    wait_for_assignment,
)

from streams.broker import EmbeddedBroker
from streams.client import publish
from streams.store.apply import applied_commands
from streams.store.sink import logs

pytestmark = pytest.mark.integration


def test_two_workers_split_partitions_and_hand_over_subjects(broker: EmbeddedBroker, examples_dir: Path,
                                                             tmp_path: Path) -> None:
    prefix = unique_prefix("pair")
    traffic = LeakyTraffic(examples_dir, seed=5)
    people = [traffic.person(n) for n in range(40)]
    out = prefix + "orders.anonymized.v1"
    first = Worker(broker.bootstrap, prefix, tmp_path).start()
    second = Worker(broker.bootstrap, prefix, tmp_path).start()
    try:
        wait_for_assignment([first, second])
        before = [traffic.order(p) for p in people]
        publish(broker.bootstrap, [(prefix + "orders.v1", p["customer_id"].encode(), json.dumps(e).encode())
                                   for p, e in zip(people, before, strict=True)])
        keys = keys_by_event(broker.bootstrap, out, {e["event_id"] for e in before})
        assert len(keys) == len(people)
        both_worked = first.metric("lethe_records_in_total") > 0 and second.metric("lethe_records_in_total") > 0
        assert both_worked, "the two workers did not share the partitions"
        first.stop(signal.SIGKILL)
        after = [traffic.order(p) for p in people]
        publish(broker.bootstrap, [(prefix + "orders.v1", p["customer_id"].encode(), json.dumps(e).encode())
                                   for p, e in zip(people, after, strict=True)])
        keys = keys_by_event(broker.bootstrap, out, {e["event_id"] for e in before + after})
    finally:
        first.stop()
        second.stop()
    for p, old, new in zip(people, before, after, strict=True):
        assert keys[old["event_id"]] == keys[new["event_id"]], f"subject {p['customer_id']} was re-keyed"




def test_a_killed_workers_timers_are_taken_over_without_loss_or_double_effect(
        broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path) -> None:
    prefix = unique_prefix("pairstate")
    traffic = LeakyTraffic(examples_dir, seed=6)
    people = [traffic.person(n) for n in range(40)]
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    policy = str(policy_with(tmp_path, LOGS_AFTER_20S))
    clock = FakeClock(tmp_path / "clock")   # the deadlines pass when the test says, not while the sink writes
    first = Worker(broker.bootstrap, prefix, tmp_path, clock, LETHE_POLICY=policy, LETHE_STORE_URL=url).start()
    second = Worker(broker.bootstrap, prefix, tmp_path, clock, LETHE_POLICY=policy, LETHE_STORE_URL=url).start()
    env = {**first.env, "LETHE_METRICS_PORT": "0"}
    services = [Service(name, env, tmp_path / f"{name}.log") for name in ("sink", "store-agent")]
    engine = create_engine(url)

    def rows() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(logs)).scalar_one())

    try:
        wait_for_assignment([first, second])
        now = datetime.fromtimestamp(clock.now, UTC).isoformat()
        events = [{**traffic.log(p), "occurred_at": now} for p in people for _ in range(5)]
        publish(broker.bootstrap, [(prefix + "logs.v1", e["customer_id"].encode(), json.dumps(e).encode())
                                   for e in events])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (first.metric("lethe_retention_timers_pending")
                                               + second.metric("lethe_retention_timers_pending")) < len(events):
            time.sleep(0.5)
        pending = (first.metric("lethe_retention_timers_pending"), second.metric("lethe_retention_timers_pending"))
        assert sum(pending) == len(events) and min(pending) > 0, f"timers not split across workers: {pending}"
        wait_for(lambda: rows() == len(events), 60, "the sink to write every row")
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        clock.advance(21)   # every deadline passes: the second fires its own and, once it owns them, the first's
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (rows() > 0 or second.metric("lethe_retention_timers_pending") > 0):
            time.sleep(0.5)
        assert rows() == 0 and second.metric("lethe_retention_timers_pending") == 0
        assert second.metric("lethe_retention_timers_fired_total") >= pending[1]
    finally:
        codes = [s.stop() for s in services]
        first.stop()
        assert second.stop() == 0, second.log()[-2000:]
    assert codes == [0, 0]
    with engine.connect() as conn:
        applied = conn.execute(select(applied_commands.c.status, applied_commands.c.rows_affected)).all()
    engine.dispose()
    assert len(applied) == len(events) and {tuple(r) for r in applied} == {("applied", 1)}
