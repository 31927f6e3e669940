"""Two workers share the input partitions; when one dies the other takes its subjects over intact."""

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


def test_two_workers_split_partitions_and_hand_over_subjects(broker: EmbeddedBroker, examples_dir: Path,
                                                             tmp_path: Path) -> None:
    prefix = unique_prefix("pair")
    traffic = LeakyTraffic(examples_dir, seed=5)
    people = [traffic.person(n) for n in range(40)]
    out = prefix + "orders.anonymized.v1"
    first = Worker(broker.bootstrap, prefix, tmp_path).start()
    second = Worker(broker.bootstrap, prefix, tmp_path).start()
    try:
        time.sleep(8)   # let the group settle with both members
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
