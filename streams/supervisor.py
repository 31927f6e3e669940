"""``lethe run --processes N``: N worker processes in one consumer group on this machine, supervised.

The supervisor checks the settings and the policy, starts the embedded broker when no
LETHE_BOOTSTRAP_SERVERS is set (one broker for all), creates the topics, then runs N ordinary
``lethe run`` children. Each child is a worker of its own: its consumer in the group ``<app id>.ingest``,
the partitions it is assigned and their state, its /metrics on LETHE_METRICS_PORT + i. They share
LETHE_DATA_DIR, hence the pseudonym key. A child that exits unasked is restarted, after 1 s doubling up
to 30 s while it keeps failing; SIGTERM or Ctrl-C is passed on to every child, and the supervisor exits 0
once all have stopped cleanly. The children get SIGTERM if the supervisor itself dies (Linux).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

from processors.errors import ConfigError
from streams.app import build_pipelines
from streams.broker import _die_with_parent
from streams.metrics import SupervisorMetrics, check_port_free
from streams.settings import Settings
from streams.worker import connect

FIRST_DELAY_S, MAX_DELAY_S = 1.0, 30.0   # restart back-off: doubles while a child keeps failing
STEADY_S = 60.0                          # a child that ran this long restarts after FIRST_DELAY_S again
STOP_TIMEOUT_S = 30.0                    # after SIGTERM; a worker stops in about 5 s (docs/operations.md)
_write = threading.Lock()


def say(message: str) -> None:
    with _write:
        print(f"lethe: {message}", file=sys.stderr, flush=True)


@dataclass
class Child:
    index: int                                   # 1..N, in log lines and metrics ports
    port: int                                    # its LETHE_METRICS_PORT (0: off)
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    delay: float = FIRST_DELAY_S
    last_exit: str = ""

    @property
    def name(self) -> str:
        return f"worker process {self.index}"


def child_ports(base: int, processes: int) -> list[int]:
    """Process i (1..N) serves on base + i; all off with base 0."""
    if not base:
        return [0] * processes
    if base + processes > 65535:
        raise ConfigError(f"LETHE_METRICS_PORT={base} leaves no room for {processes} worker processes, which serve "
                          f"on the ports after it (up to {base + processes}); choose a lower port")
    return [base + i for i in range(1, processes + 1)]


def supervise(settings: Settings) -> int:
    build_pipelines(settings)   # a bad policy or schema stops us before any child or broker starts
    children = [Child(i, port) for i, port in enumerate(child_ports(settings.metrics_port, settings.processes), 1)]
    base = settings.metrics_port
    if base:
        check_port_free(base)
        for child in children:
            try:
                check_port_free(child.port)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (with {len(children)} worker processes, LETHE_METRICS_PORT={base} takes "
                                  f"the ports {base}..{children[-1].port}: the supervisor's, then one per process)"
                                  ) from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with ExitStack() as stack:
            bootstrap = connect(settings, stack)   # one embedded broker for all the children
            env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=bootstrap, LETHE_PROCESSES="1",
                       LETHE_DATA_DIR=str(settings.data_dir))
            metrics = SupervisorMetrics(len(children), lambda: readiness(children))
            if settings.metrics_port:
                metrics.serve(settings.metrics_port)
            say(f"supervising {len(children)} worker processes in the consumer group {settings.app_id}.ingest on "
                f"{bootstrap}; " + (f"/healthz and /readyz of all on :{settings.metrics_port}, each process's "
                                    f"/metrics on :{children[0].port}..{children[-1].port}"
                                    if settings.metrics_port else "metrics off (LETHE_METRICS_PORT=0)"))
            try:
                for child in children:
                    if not stop.is_set():
                        _start(child, env)
                _watch(children, env, stop, metrics)
            finally:
                say(f"stopping {len(children)} worker processes")
                codes = stop_children([c.process for c in children if c.process is not None], STOP_TIMEOUT_S)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    unclean = [code for code in codes if code not in (0, -signal.SIGTERM)]
    if unclean:
        say(f"{len(unclean)} worker processes did not stop cleanly (exit codes {unclean})")
    return 1 if unclean else 0


def _start(child: Child, env: dict[str, str]) -> None:
    child.process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "run"], env={**env, "LETHE_METRICS_PORT": str(child.port)},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,   # Ctrl-C reaches the supervisor only, which passes SIGTERM on once
        preexec_fn=_die_with_parent)
    child.started = time.monotonic()
    threading.Thread(target=_relay, args=(f"[process {child.index}] ", child.process.stdout),
                     name=f"lethe-relay-{child.index}", daemon=True).start()
    say(f"started {child.name} (pid {child.process.pid})" + (f", /metrics on :{child.port}" if child.port else ""))


def _relay(prefix: str, stream: IO[bytes] | None) -> None:
    """A child's output, line by line, to our stderr with the child's number in front."""
    if stream is None:
        return
    with stream:
        for line in stream:
            with _write:
                sys.stderr.write(prefix + line.decode(errors="replace"))
                sys.stderr.flush()


def _watch(children: list[Child], env: dict[str, str], stop: threading.Event, metrics: SupervisorMetrics) -> None:
    """Until SIGTERM or SIGINT: restart each child that exited, with back-off."""
    while not stop.wait(0.2):
        metrics.beat()
        now = time.monotonic()
        for child in children:
            code = child.process.poll() if child.process is not None else None
            if child.process is not None and code is not None:
                ran = now - child.started
                if ran >= STEADY_S:
                    child.delay = FIRST_DELAY_S
                child.last_exit = describe_exit(code)
                say(f"{child.name} (pid {child.process.pid}) {child.last_exit} after {ran:.0f}s; "
                    f"restarting it in {child.delay:.0f}s")
                child.process, child.restart_at = None, now + child.delay
                child.delay = min(child.delay * 2, MAX_DELAY_S)
                metrics.restarts.inc()
            elif child.process is None and now >= child.restart_at:
                _start(child, env)
        metrics.processes_running.set(sum(c.process is not None for c in children))


def describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def readiness(children: Sequence[Child]) -> tuple[bool, str]:
    """Ready when every worker process answers 200 on its /readyz; else the first reason why not."""
    for child in children:
        if child.process is None:
            return False, f"{child.name} {child.last_exit}; restarting"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{child.port}/readyz", timeout=2):
                continue
        except urllib.error.HTTPError as exc:
            return False, f"{child.name}: {exc.read().decode(errors='replace').strip()}"
        except OSError:
            return False, f"{child.name}: starting"
    return True, "ready"


def stop_children(processes: Sequence[subprocess.Popen[bytes]], timeout: float) -> list[int]:
    """SIGTERM to every child, SIGKILL to any still running after ``timeout``; their exit codes.
    A second SIGTERM or Ctrl-C meanwhile is ignored: the children are already stopping."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [process.returncode for process in processes]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
