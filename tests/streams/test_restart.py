"""Pseudonyms are stable across time: a restarted worker recovers the subject secrets table."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from leaky import LeakyTraffic
from support import Worker, keys_by_event, unique_prefix

from streams.broker import EmbeddedBroker
from streams.client import publish

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("table_store", ["memory://", "rocksdb://"])
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_pseudonyms_survive_a_worker_restart(broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path,
                                             stop_signal: int, table_store: str) -> None:
    prefix = unique_prefix("restart")
    traffic = LeakyTraffic(examples_dir, seed=stop_signal)
    people = [traffic.person(n) for n in range(40)]
    out = prefix + "orders.anonymized.v1"

    first = Worker(broker.bootstrap, prefix, tmp_path, LETHE_TABLE_STORE=table_store).start()
    try:
        before = [traffic.order(p) for p in people]
        publish(broker.bootstrap, [(prefix + "orders.v1", p["customer_id"].encode(), json.dumps(e).encode())
                                   for p, e in zip(people, before, strict=True)])
        keys_before = keys_by_event(broker.bootstrap, out, {e["event_id"] for e in before})
        assert len(keys_before) == len(people)
    finally:
        first.stop(stop_signal)
    if stop_signal == signal.SIGKILL:
        # let the dead member's session expire first: on the embedded broker a member that joins
        # before then may get only its share of the partitions, with no rebalance after the
        # expiry (docs/broker.md); real Kafka rebalances. The state recovery is what is tested here.
        time.sleep(float(first.env["LETHE_SESSION_TIMEOUT_S"]) + 2)

    second = Worker(broker.bootstrap, prefix, tmp_path, LETHE_TABLE_STORE=table_store).start()
    try:
        after = [traffic.order(p) for p in people]
        publish(broker.bootstrap, [(prefix + "orders.v1", p["customer_id"].encode(), json.dumps(e).encode())
                                   for p, e in zip(people, after, strict=True)])
        keys = keys_by_event(broker.bootstrap, out, {e["event_id"] for e in before + after})
    finally:
        second.stop()
    for p, old, new in zip(people, before, after, strict=True):
        assert keys[old["event_id"]] == keys[new["event_id"]], f"pseudonym of subject {p['customer_id']} changed"
    assert len({keys[e["event_id"]] for e in before}) == len(people)
