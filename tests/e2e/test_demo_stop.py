"""A backgrounded `lethe demo --keep-running`, stopped with SIGTERM, leaves no process behind.

Its children (worker, sink, store agent, broker) are found by their parent pid in /proc while the
demo is up; after the SIGTERM, the demo exits and every one of them is gone (not an orphan).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from support import REPO, alive, descendants, wait_for

from streams.broker import free_port

LETHE = str(Path(sys.executable).parent / "lethe")


def test_sigterm_stops_a_backgrounded_demo_and_all_its_children(tmp_path: Path) -> None:
    env = dict(os.environ, LETHE_DATA_DIR=str(tmp_path), LETHE_METRICS_PORT=str(free_port()),
               LETHE_SESSION_TIMEOUT_S="4")
    env.pop("LETHE_BOOTSTRAP_SERVERS", None)
    env.pop("LETHE_STORE_URL", None)
    out = tmp_path / "demo.out"
    with out.open("wb") as log:   # `lethe demo --keep-running > demo.out 2>&1 &`, in a session of its own
        demo = subprocess.Popen([LETHE, "demo", "--keep-running", "--events", "200"], env=env, cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    children: dict[int, str] = {}
    try:
        wait_for(lambda: "stops everything" in out.read_text(errors="replace") or demo.poll() is not None, 240,
                 "the demo to be up and keep running")
        assert demo.poll() is None, out.read_text(errors="replace")[-3000:]
        children = descendants(demo.pid)
        # the worker, the sink, the store agent and the broker (and whatever they started)
        assert len(children) >= 4, children
        printed = out.read_text()
        # the worker log the demo names is the one it writes
        worker_log = tmp_path / "demo-worker.log"
        assert f"log {worker_log}," in printed
        assert worker_log.stat().st_size > 0
        assert (tmp_path / "demo-sink.log").exists() and (tmp_path / "demo-store-agent.log").exists()
        assert not (tmp_path / "demo-run.log").exists()
        # each process serves its own health endpoints, on the ports the demo prints
        ports = dict(re.findall(r"(worker|sink|store agent) :(\d+)", printed.split("/readyz: ", 1)[1].split("\n")[0]))
        assert set(ports) == {"worker", "sink", "store agent"} and len(set(ports.values())) == 3, printed
        for name, port in ports.items():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                assert response.status == 200, name
        # the env file that points the CLI at it: the owner's only, the broker the demo printed
        env_file = tmp_path / "demo.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        bootstrap = re.search(r"embedded broker on (\S+)", printed)
        assert bootstrap and env_file.read_text() == (
            f"export LETHE_BOOTSTRAP_SERVERS={bootstrap[1]} LETHE_DATA_DIR={tmp_path}\n")

        demo.send_signal(signal.SIGTERM)   # `kill PID`: only the demo gets the signal
        demo.wait(60)
        wait_for(lambda: not any(alive(pid, start) for pid, start in children.items()), 30,
                 "every child of the demo to exit")
        assert demo.returncode == 0, out.read_text(errors="replace")[-3000:]
        assert not env_file.exists()   # a stopped demo leaves no env file pointing at a broker that is gone
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
        for pid, start in children.items():   # a failed test leaves nothing running either
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)
