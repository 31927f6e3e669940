"""Test support: real `lethe run` workers (optionally on a fake clock) and unique topic prefixes."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from streams.broker import free_port
from streams.client import read
from streams.settings import Settings
from streams.state.base import PartitionedState
from streams.topics import ensure_topics

REPO = Path(__file__).resolve().parent.parent
_counter = itertools.count()


def keys_by_event(bootstrap: str, topic: str, wanted: set[str], timeout: float = 120) -> dict[str, bytes]:
    """Output keys by event id, read until every wanted event is there (at-least-once may repeat some)."""
    keys: dict[str, bytes] = {}
    for record in read(bootstrap, [topic], timeout=timeout):
        keys[json.loads(record.value or b"{}")["event_id"]] = record.key or b""
        if wanted <= keys.keys():
            break
    return keys


def unique_prefix(name: str) -> str:
    return f"t{os.getpid()}-{next(_counter)}-{name}."


def own_topics(bootstrap: str, name: str, data_dir: Path) -> Settings:
    """Settings of a test's own topics and app id (a unique prefix), every Lethe topic created."""
    prefix = unique_prefix(name)
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": prefix, "LETHE_APP_ID": f"{prefix}lethe",
                                  "LETHE_DATA_DIR": str(data_dir)})
    ensure_topics(settings, bootstrap)
    return settings


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.3) -> Any:
    """Poll ``check`` until it returns something true (returned); an exception counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:   # e.g. tables appear only when the sink starts
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@contextlib.contextmanager
def store_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh store database: an SQLite file, or a new PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'shop.db'}"
        return
    from sqlalchemy import create_engine, text
    # the pid tells parallel test processes apart (xdist workers, other checkouts sharing the server); the
    # random part, a database left by a killed run whose pid comes round again
    name = f"lethe_{os.getpid()}_{next(_counter)}_{secrets.token_hex(4)}"
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def without_partners(policy: str) -> str:
    """Policy text without its [partners.*] tables (each runs until the next table that is not one)."""
    kept, skipping = [], False
    for line in policy.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.startswith("[partners.")
        if not skipping:
            kept.append(line)
    return "".join(kept)


# a retention rule that fires soon: log events are deleted 20 s after they happened
LOGS_AFTER_20S = """
[retention."logs"]
family = "logs"
trigger = "event_time"
after = "20s"
action = "delete"
"""


def policy_with(tmp_path: Path, retention: str) -> Path:
    """deploy/policy.toml with its [retention] rules replaced by ``retention``."""
    text = (REPO / "deploy" / "policy.toml").read_text()
    head = text[: text.index("[retention.")]
    path = tmp_path / "policy.toml"
    path.write_text(head + retention)
    return path


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal a process (if it still runs) and return its exit code; killed if it takes over 30 s."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def stat(pid: int) -> tuple[int, str, str] | None:
    """(ppid, state, start time) of a live process, from /proc/PID/stat; None once it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()   # after "pid (comm) "
    state, ppid, start = fields[0], int(fields[1]), fields[19]
    return None if state in ("Z", "X") else (ppid, state, start)


def descendants(root: int) -> dict[int, str]:
    """Live descendants of ``root``: pid -> start time (so a reused pid is not mistaken for one)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := stat(int(entry.name))) is not None:
            parents[int(entry.name)] = (found[0], found[2])
    tree: dict[int, str] = {}
    frontier = {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in parents.items() if ppid in frontier and pid not in tree}
        tree.update({pid: parents[pid][1] for pid in frontier})
    return tree


def alive(pid: int, start: str) -> bool:
    found = stat(pid)
    return found is not None and found[2] == start


class Service:
    """A `lethe sink` or `lethe store-agent` process."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "streams.cli", command, *args], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, cwd=REPO)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return stop_process(self.process, sig)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class FakeClock:
    """The time a clock worker (tests/clockworker.py) sees: it stands still until ``set`` or ``advance``."""

    def __init__(self, path: Path, start: float | None = None) -> None:
        self.path = path
        self.set(time.time() if start is None else start)

    def set(self, now: float) -> None:
        self.now = now
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(repr(now))
        os.replace(scratch, self.path)   # whole: a worker never reads half a time

    def advance(self, seconds: float) -> float:
        self.set(self.now + seconds)
        return self.now


# logged by streams/state/base.py each time a partition's secrets are restored on assignment
_RESTORED = re.compile(r"restored subject secrets of partitions \[([\d, ]*)\]")


class WorkerView:
    """What a test reads of one worker process: its /metrics (on ``metrics_port``) and its log."""

    metrics_port: int
    log_start = 0   # where this run of the worker begins in its log

    def log(self) -> str:
        raise NotImplementedError

    def metrics_text(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return ""

    def metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for line in self.metrics_text().splitlines():
            if not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            if series == name or (series.startswith(name + "{") and all(
                    f'{k}="{v}"' in series for k, v in labels.items())):
                total += float(value)
        return total

    def owned_partitions(self) -> set[int]:
        """The input partitions this run of the worker last restored (its assignment), from its log."""
        found = _RESTORED.findall(self.log()[self.log_start:])
        return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()


class Worker(WorkerView):
    """A real `lethe run` process, as a user starts it; with ``clock``, a clock worker on that fake time."""

    def __init__(self, bootstrap: str, prefix: str, data_dir: Path, clock: FakeClock | None = None,
                 **extra: str) -> None:
        self.prefix = prefix
        self.command = ([sys.executable, str(REPO / "tests" / "clockworker.py"), str(clock.path)] if clock
                        else [sys.executable, "-m", "streams.cli", "run"])
        self.metrics_port = free_port()
        self.log_path = data_dir / f"worker-{next(_counter)}.log"
        self.env = dict(
            os.environ,
            LETHE_BOOTSTRAP_SERVERS=bootstrap,
            LETHE_TOPIC_PREFIX=prefix,
            LETHE_APP_ID=f"{prefix}lethe",
            LETHE_METRICS_PORT=str(self.metrics_port),
            LETHE_DATA_DIR=str(data_dir),
            LETHE_STORE_URL=f"sqlite:///{data_dir / 'lethe.db'}",
            LETHE_SESSION_TIMEOUT_S="4",
            LETHE_BATCH_WITHIN_MS="20",
        )
        self.env.update(extra)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_start = 0

    def start(self) -> Worker:
        self.log_start = len(self.log())   # a restarted worker's assignment is read from its new lines
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            if "lethe_info" in self.metrics_text():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker did not serve metrics within 60 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return 0
        code = stop_process(self.process, sig)
        self.process = None
        return code


def wait_for_assignment(workers: Sequence[WorkerView], partitions: int = 4, timeout: float = 60) -> list[set[int]]:
    """Wait until the workers' assignments split the input partitions (each owns some, none twice).

    The signal is each worker's own restore of the partitions it was assigned (its log), so records
    published afterwards are spread as the split says; no time is guessed for the group to settle.
    """
    def split() -> list[set[int]] | None:
        owned = [w.owned_partitions() for w in workers]
        whole = all(owned) and sum(map(len, owned)) == partitions and set().union(*owned) == set(range(partitions))
        return owned if whole else None
    result: list[set[int]] = wait_for(split, timeout, f"{len(workers)} workers to split {partitions} partitions")
    return result


class Kept(PartitionedState):
    """The records of a changelog as they were read back."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic)
        self.read: list[tuple[int, bytes]] = []

    def load(self, partition: int, records: list[Any]) -> None:
        self.read += [(partition, record.key) for record in records]

    def drop(self, partition: int) -> None:
        pass
