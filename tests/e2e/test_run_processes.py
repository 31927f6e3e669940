"""`lethe run --processes 2` as a user runs it: two supervised worker processes in one consumer group.

Both consume (each owns partitions, each counts records on its own /metrics port); a SIGKILLed one is
restarted by the supervisor and the records published while it was down are processed; SIGTERM to
the supervisor stops every process (exit 0, nothing left running). Pseudonyms stay the same across
processes and the restart: the processes share the pseudonym key and hand subjects' state over.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from leaky import LeakyTraffic
from support import REPO, WorkerView, alive, descendants, keys_by_event, unique_prefix, wait_for, wait_for_assignment

from processors.errors import ConfigError
from streams.broker import EmbeddedBroker, free_port
from streams.client import publish
from streams.metrics import check_port_free

pytestmark = pytest.mark.integration

LETHE = str(Path(sys.executable).parent / "lethe")


class Child(WorkerView):
    """Worker process ``index`` of the supervisor: its lines of the supervisor's log, its own metrics port."""

    def __init__(self, index: int, metrics_port: int, log_path: Path) -> None:
        self.index, self.metrics_port, self.log_path = index, metrics_port, log_path

    def log(self) -> str:
        prefix = f"[process {self.index}] "
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "".join(line for line in text.splitlines(keepends=True) if line.startswith(prefix))

    def pids(self) -> list[int]:
        """Every pid the supervisor started this process with, in order."""
        text = self.log_path.read_text(errors="replace")
        return [int(pid) for pid in re.findall(rf"started worker process {self.index} \(pid (\d+)\)", text)]


def free_run(count: int) -> int:
    """A free port followed by ``count`` free ports (the supervisor's, then one per process)."""
    def free(port: int) -> bool:
        try:
            check_port_free(port)
        except ConfigError:
            return False
        return True
    for _ in range(100):
        base = free_port()
        if all(free(base + i) for i in range(1, count + 1)):
            return base
    raise AssertionError(f"no run of {count + 1} free ports found")


def ready(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
        return bool(response.status == 200)


def test_two_processes_share_partitions_heal_a_killed_one_and_stop_on_sigterm(
        broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path) -> None:
    prefix = unique_prefix("procs")
    base = free_run(2)
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=prefix,
               LETHE_APP_ID=f"{prefix}lethe", LETHE_METRICS_PORT=str(base), LETHE_DATA_DIR=str(tmp_path),
               LETHE_STORE_URL=f"sqlite:///{tmp_path / 'lethe.db'}", LETHE_SESSION_TIMEOUT_S="4",
               LETHE_BATCH_WITHIN_MS="20")
    env.pop("LETHE_PROCESSES", None)
    env.pop("LETHE_PSEUDONYM_KEY", None)   # a key file made on first run: both processes must use the one key
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen([LETHE, "run", "--processes", "2"], env=env, cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    children = [Child(i, base + i, log_path) for i in (1, 2)]
    traffic = LeakyTraffic(examples_dir, seed=14)
    people = [traffic.person(n) for n in range(40)]
    out = prefix + "orders.anonymized.v1"
    orders: list[list[dict[str, Any]]] = []

    def send() -> dict[str, bytes]:
        """A new order of every subject, published; the output keys of every order so far."""
        orders.append([traffic.order(p) for p in people])
        publish(broker.bootstrap, [(prefix + "orders.v1", e["customer_id"].encode(), json.dumps(e).encode())
                                   for e in orders[-1]])
        return keys_by_event(broker.bootstrap, out, {e["event_id"] for batch in orders for e in batch})

    family: dict[int, str] = {}
    try:
        wait_for_assignment(children, timeout=120)
        wait_for(lambda: ready(base), 60, "the supervisor's /readyz to answer 200")
        send()
        assert all(c.metric("lethe_records_in_total") > 0 for c in children), "a process consumed nothing"
        family = descendants(run.pid)
        assert {c.pids()[-1] for c in children} <= family.keys(), (family, log_path.read_text()[-3000:])
        supervisor = Child(0, base, log_path)
        restarts = supervisor.metric("lethe_worker_process_restarts_total")   # 0 unless a start failed

        victim = children[0]
        victim.log_start = len(victim.log())
        starts, killed = len(victim.pids()), victim.pids()[-1]
        os.kill(killed, signal.SIGKILL)
        send()   # published while process 1 is down: processed all the same
        wait_for(lambda: len(victim.pids()) == starts + 1, 60, "the supervisor to restart process 1")
        assert f"worker process 1 (pid {killed}) was killed by SIGKILL" in log_path.read_text()
        wait_for_assignment(children, timeout=120)   # the restarted process owns partitions again
        send()
        assert victim.metric("lethe_records_in_total") > 0, "the restarted process consumed nothing"
        assert supervisor.metric("lethe_worker_process_restarts_total") == restarts + 1
        assert supervisor.metric("lethe_worker_processes_running") == 2
        family.update(descendants(run.pid))

        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0, log_path.read_text()[-3000:]
        wait_for(lambda: not any(alive(pid, start) for pid, start in family.items()), 30,
                 "every worker process to exit")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
        for pid, start in family.items():   # a failed test leaves nothing running either
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)
    keys = keys_by_event(broker.bootstrap, out, {e["event_id"] for batch in orders for e in batch})
    for n, person in enumerate(people):
        assert len({keys[batch[n]["event_id"]] for batch in orders}) == 1, f"subject {person['customer_id']} re-keyed"
