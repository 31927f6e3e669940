"""Real workers rebalancing: the partitions a worker keeps are caught up, not read from the beginning again.

The first worker owns all four partitions and their state (subjects' secrets, retention timers, the
sharing ledger). A second joins; the rebalance (eager) revokes every partition of the first and gives
two back. The first reads those two from where it last read them (``how="catch_up"``, nothing from
the beginning), every subject keeps its pseudonym on either worker, and every timer fires once.
The second then erases a subject and creates a new one on its partitions, and stops: the first takes
them back with the second's writes (the erased subject has a new pseudonym, the new one the pseudonym
the second gave it). Those two were dropped at the rebalance (not assigned again), so they come back
from the beginning; catching up over another worker's writes: tests/streams/test_catch_up.py.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka.partitioner.default import murmur2
from leaky import LeakyTraffic
from support import (
    LOGS_AFTER_20S,
    FakeClock,
    Worker,
    keys_by_event,
    policy_with,
    unique_prefix,
    wait_for,
    wait_for_assignment,
)
from test_requests import lethe

from streams.broker import EmbeddedBroker
from streams.client import publish

pytestmark = pytest.mark.integration

PARTITIONS = 4
RESTORED = "lethe_state_records_restored_total"
PENDING, FIRED = "lethe_retention_timers_pending", "lethe_retention_timers_fired_total"
# the restore log line of streams/state/base.py, after the partitions: how each was read
HOW = re.compile(r"restored subject secrets of partitions \[[\d, ]*\]: (.*)")


def partition_of(person: dict[str, str]) -> int:
    """The input partition of a subject's records (the producer's default partitioner)."""
    return (murmur2(person["customer_id"].encode()) & 0x7FFFFFFF) % PARTITIONS


def last_restore(worker: Worker) -> str:
    found = HOW.findall(worker.log()[worker.log_start:])
    return str(found[-1]) if found else ""


@pytest.mark.parametrize("table_store", ["memory://", "rocksdb://"])
def test_a_kept_partition_is_caught_up_and_a_partition_back_from_another_worker_has_its_writes(
        broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path, table_store: str) -> None:
    prefix = unique_prefix("catchup")
    traffic = LeakyTraffic(examples_dir, seed=8)
    people = [traffic.person(n) for n in range(24)]
    clock = FakeClock(tmp_path / "clock")   # the deadlines pass when the test says
    policy = str(policy_with(tmp_path, LOGS_AFTER_20S))
    env = {"LETHE_POLICY": policy, "LETHE_TABLE_STORE": table_store}
    first = Worker(broker.bootstrap, prefix, tmp_path, clock, **env).start()
    second = Worker(broker.bootstrap, prefix, tmp_path, clock, **env)

    def pseudonyms(*persons: dict[str, str]) -> dict[str, bytes]:
        """One order per person; each one's output key (its pseudonym) by customer id."""
        sent = [traffic.order(p) for p in persons]
        publish(broker.bootstrap, [(prefix + "orders.v1", e["customer_id"].encode(), json.dumps(e).encode())
                                   for e in sent])
        keys = keys_by_event(broker.bootstrap, prefix + "orders.anonymized.v1", {e["event_id"] for e in sent})
        return {e["customer_id"]: keys[e["event_id"]] for e in sent}

    def both(metric: str) -> tuple[float, float]:
        return first.metric(metric), second.metric(metric)

    try:
        wait_for_assignment([first], PARTITIONS)
        before = pseudonyms(*people)
        now = datetime.fromtimestamp(clock.now, UTC).isoformat()
        events = [{**traffic.log(p), "occurred_at": now} for p in people for _ in range(3)]
        publish(broker.bootstrap, [(prefix + "logs.v1", e["customer_id"].encode(), json.dumps(e).encode())
                                   for e in events])
        wait_for(lambda: first.metric(PENDING) == len(events), 60, "every deadline on the first worker")
        read_from_beginning = first.metric(RESTORED, how="full")

        second.start()
        kept, moved = wait_for_assignment([first, second], PARTITIONS)
        how = last_restore(first)
        assert f"{sorted(kept)} caught up" in how and "from the beginning" not in how, how
        # counted once every kind is restored (the log line above is each kind's own)
        wait_for(lambda: first.metric(RESTORED, kind="subject_secrets", how="catch_up") > 0, 30,
                 "the first's catch-up to be counted (its own writes since its restore)")
        assert first.metric(RESTORED, how="full") == read_from_beginning   # not one record read again from 0
        wait_for(lambda: second.metric(RESTORED, kind="subject_secrets", how="full") > 0, 30,
                 "the second's restore from the beginning to be counted")

        def split_pending() -> tuple[float, float] | None:
            pending = both(PENDING)
            return pending if sum(pending) == len(events) and min(pending) > 0 else None
        split = wait_for(split_pending, 30, "the deadlines split between the workers")
        assert pseudonyms(*people) == before, "a subject was re-keyed by the rebalance"
        clock.advance(21)
        wait_for(lambda: both(PENDING) == (0, 0), 60, "every deadline to fire")
        assert both(FIRED) == split   # each once, by the worker that owns it

        on_second = [p for p in people if partition_of(p) in moved]
        erased, stays = on_second[0], on_second[1]
        newcomer = next(p for n in range(100, 200) if partition_of(p := traffic.person(n)) in moved)
        assert lethe({**first.env, "LETHE_METRICS_PORT": "0"}, "request", "erase", "--customer",
                     erased["customer_id"]).returncode == 0

        def renewed() -> bytes | None:
            key = pseudonyms(erased)[erased["customer_id"]]
            return key if key != before[erased["customer_id"]] else None
        new_key: bytes = wait_for(renewed, 60, "the erasure to destroy the subject's secret", interval=1.0)
        made = pseudonyms(newcomer)
        assert second.stop() == 0, second.log()[-3000:]

        wait_for(lambda: first.owned_partitions() == set(range(PARTITIONS)), 60, "the first to own every partition")
        how = last_restore(first)
        assert f"{sorted(moved)} from the beginning" in how and f"{sorted(kept)} caught up" in how, how
        on_first = next(p for p in people if partition_of(p) in kept)
        after: dict[str, Any] = pseudonyms(erased, stays, newcomer, on_first)
    finally:
        first.stop()
        second.stop()
    assert after[erased["customer_id"]] == new_key, "the erased subject's old secret came back"
    assert after[newcomer["customer_id"]] == made[newcomer["customer_id"]], "the second worker's new secret was lost"
    for person in (stays, on_first):
        assert after[person["customer_id"]] == before[person["customer_id"]]
