"""Erasure outlives the worker that did it: after a SIGKILL and restart, and after a handover.

An erasure destroys the subject's secret and tombstones it in the secrets changelog, from which
a restarted worker, or the worker a partition moves to, restores the secrets. Were the tombstone
lost, the old secret would come back and the subject's next records would carry the pseudonym
they had before the erasure: linkable again. So each test erases a subject, moves the partitions
to a fresh process, and checks that the subject's next record gets a new pseudonym while a
subject that was not erased keeps its own. An erasure suspended by a legal hold is open across
the move: the process that takes the partition over completes it once the hold is released.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support import Worker, keys_by_event, wait_for, wait_for_assignment
from test_requests import Stack, lethe

from streams.broker import EmbeddedBroker

pytestmark = pytest.mark.integration


class Erasures:
    """Subjects a (erased), b (kept) and c (erasure suspended by a hold) with one order each, and their keys."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.a, self.b, self.c = stack.traffic.people[:3]
        self.topic = stack.prefix + "orders.anonymized.v1"
        self.keys: dict[str, bytes] = {}

    def orders(self, *people: Any) -> dict[str, bytes]:
        """Send one order per person; return each person's output key (pseudonym) by customer id."""
        sent = [self.stack.traffic.order(p) for p in people]
        self.stack.send("orders.v1", sent)
        keys = keys_by_event(self.stack.bootstrap, self.topic, {e["event_id"] for e in sent})
        return {e["customer_id"]: keys[e["event_id"]] for e in sent}

    def erase(self) -> tuple[str, str]:
        """a erased (completed), c's erasure held open; returns (c's request id, c's hold id)."""
        stack, a, c = self.stack, self.a, self.c
        self.keys = self.orders(a, self.b, c)
        assert len(set(self.keys.values())) == 3
        wait_for(lambda: len(stack.rows()[0]) == 3, 60, "the order rows")
        placed = lethe(stack.env, "hold", "place", "--customer", c.customer_id, "--case", "LIT-9")
        hold_id = placed.stdout.split()[0].decode()
        wait_for(lambda: stack.worker.metric("lethe_legal_holds_active") == 1, 30, "the hold")

        filed = lethe(stack.env, "request", "erase", "--customer", a.customer_id)
        status = lethe(stack.env, "request", "status", filed.stdout.split()[0].decode(), "--wait", "60")
        assert json.loads(status.stdout)["status"] == "completed", status.stdout
        held = lethe(stack.env, "request", "erase", "--customer", c.customer_id)
        c_request = held.stdout.split()[0].decode()
        state = wait_for(lambda: stack.state(c_request), 30, "c's request")
        assert state["status"] == "in_progress" and state["suspended_by"] == [hold_id]
        assert {r.customer_id for r in stack.rows()[0]} == {self.b.customer_id, c.customer_id}
        return c_request, hold_id

    def check_after_the_move(self, worker: Worker, c_request: str, hold_id: str) -> None:
        """On the process that took over: a unlinkable, b stable, c's erasure completes on release."""
        stack, a, b, c = self.stack, self.a, self.b, self.c
        later = self.orders(a, b)
        assert later[a.customer_id] != self.keys[a.customer_id], "the erased subject's old pseudonym came back"
        assert later[b.customer_id] == self.keys[b.customer_id], "a subject that was not erased was re-keyed"

        released = lethe(stack.env, "hold", "release", "--customer", c.customer_id, "--hold-id", hold_id)
        assert released.returncode == 0, released.stderr
        wait_for(lambda: (stack.state(c_request) or {}).get("status") == "completed", 60, "c's erasure")
        assert worker.metric("lethe_erasure_completion_seconds_count") == 1   # completed by this process
        wait_for(lambda: {r.customer_id for r in stack.rows()[0]} == {a.customer_id, b.customer_id}, 30,
                 "only a's later order and b's orders left")
        assert self.orders(c)[c.customer_id] != self.keys[c.customer_id]


@pytest.mark.parametrize("table_store", ["memory://", "rocksdb://"])
def test_an_erased_subject_stays_unlinkable_after_a_sigkill_and_restart(broker: EmbeddedBroker,
                                                                        tmp_path: Path, table_store: str) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "eraseKill", table_store=table_store)
    stack.worker.start()
    stack.start("sink", "store-agent")
    subjects = Erasures(stack)
    try:
        c_request, hold_id = subjects.erase()
        assert stack.worker.stop(signal.SIGKILL) == -signal.SIGKILL
        # the dead member's session must expire first: the embedded broker does not rebalance after
        # it, so a worker joining earlier keeps only its share (as in test_restart.py)
        time.sleep(float(stack.worker.env["LETHE_SESSION_TIMEOUT_S"]) + 2)
        stack.worker.start()
        wait_for_assignment([stack.worker])
        subjects.check_after_the_move(stack.worker, c_request, hold_id)
    finally:
        stack.stop()


@pytest.mark.parametrize("table_store", ["memory://", "rocksdb://"])
def test_an_erased_subject_stays_unlinkable_after_a_handover(broker: EmbeddedBroker, tmp_path: Path,
                                                             table_store: str) -> None:
    """Two worker processes share the data dir, as ``lethe run --processes 2`` does."""
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "eraseMove", table_store=table_store)
    first = stack.worker.start()
    stack.start("sink", "store-agent")
    subjects = Erasures(stack)
    env = first.env
    second = Worker(stack.bootstrap, stack.prefix, tmp_path, LETHE_POLICY=env["LETHE_POLICY"],
                    LETHE_STORE_URL=env["LETHE_STORE_URL"], LETHE_TABLE_STORE=table_store)
    try:
        c_request, hold_id = subjects.erase()
        second.start()
        wait_for_assignment([second, first])                 # half the partitions move when it joins
        assert first.stop() == 0, first.log()[-3000:]
        wait_for_assignment([second])                        # and the rest when the first stops
        stack.worker = second                                # the stack's metrics and status: the second's
        subjects.check_after_the_move(second, c_request, hold_id)
    finally:
        stack.stop()
        first.stop()

