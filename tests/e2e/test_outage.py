"""A broker outage is said once, and SIGTERM still stops every process within seconds (issue 10).

Before: with its broker gone, a worker wrote about 7,500 client-library error lines a minute and
took over a minute to exit on SIGTERM. Run as a user runs them: `lethe broker` as a child, then
`lethe run`, `lethe sink` and `lethe store-agent` against it; the broker is killed. Elapsed time is
measured only as the issue's generous bound on stopping (10 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REPO, wait_for

from streams.broker import free_port
from streams.kafka import check_reachable

pytestmark = pytest.mark.integration

LETHE = str(Path(sys.executable).parent / "lethe")
UNREACHABLE = "is unreachable"


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int = 0) -> None:
        self.name, self.log_path, self.port = args[0], log, port
        with open(log, "wb") as out:
            self.process = subprocess.Popen([LETHE, *args], env=dict(env, LETHE_METRICS_PORT=str(port)), cwd=REPO,
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def readiness(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[Process, list[Process]]]:
    port = free_port()
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}", LETHE_DATA_DIR=str(tmp_path),
               LETHE_STORE_URL=f"sqlite:///{tmp_path / 'store.db'}", PYTHONPATH=str(REPO))
    broker = Process(["broker", "--port", str(port)], env, tmp_path / "broker.log")
    started: list[Process] = []
    try:
        wait_for(lambda: check_reachable(env["LETHE_BOOTSTRAP_SERVERS"], 1.0) is None, 30, "the broker")
        started.append(Process(["run"], env, tmp_path / "run.log", free_port()))
        wait_for(lambda: started[0].readiness() == 200, 60, "the worker to be ready")
        for command in ("sink", "store-agent"):
            started.append(Process([command], env, tmp_path / f"{command}.log", free_port()))
        for process in started:
            wait_for(lambda p=process: p.readiness() == 200, 60, f"{process.name} to be ready")   # type: ignore[misc]
        subprocess.run([LETHE, "publish", "orders.v1", "--example"], env=env, cwd=REPO, check=True,
                       capture_output=True, timeout=60)
        yield broker, started
    finally:
        for process in [*started, broker]:
            if process.process.poll() is None:
                process.process.kill()
                process.process.wait(10)


def test_a_lost_broker_is_said_once_and_sigterm_still_stops_every_process(
        outage: tuple[Process, list[Process]]) -> None:
    broker, processes = outage
    before = {p.name: len(p.lines()) for p in processes}
    broker.process.kill()
    broker.process.wait(10)
    time.sleep(15)
    for process in processes:
        new = process.lines()[before[process.name]:]
        assert process.process.poll() is None, f"{process.name} exited: {new}"
        assert len(new) <= 10, f"{process.name} wrote {len(new)} lines:\n" + "\n".join(new[:20])
        said = [line for line in new if UNREACHABLE in line]
        assert len(said) == 1, f"{process.name}: {new}"
        assert broker.process.args[-1] in said[0] and "LETHE_BOOTSTRAP_SERVERS" in said[0]   # the address
        assert "Traceback" not in "\n".join(new)
        assert process.readiness() == 503, process.name   # not ready while disconnected

    for process in processes:
        process.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    for process in processes:
        try:
            process.process.wait(max(10 - (time.monotonic() - started), 0.1))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{process.name} did not exit within 10 s of SIGTERM:\n" + "\n".join(process.lines()[-20:]))
    assert all(p.process.poll() is not None for p in processes)
