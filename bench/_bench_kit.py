"""What bench/throughput.py's measurements share: the workload, topics, pre-loading and collecting
records on the embedded broker, CPU accounting from /proc, child processes, and errors."""


from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from processors.sample import Traffic
from streams.settings import REPO_ROOT
from streams.topics import admin_client

HERE = Path(__file__).resolve().parent
PARTITIONS = 4
SESSION_TIMEOUT_S = 6.0
BATCH = 2000
WITHIN_S = 0.05
SOURCES = ("orders.v1", "logs.v1")
OUTPUTS = ("orders.anonymized.v1", "logs.anonymized.v1", "dlq.v1")
_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


# --- workload ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    records: list[tuple[str, bytes | None, bytes]]   # (source topic, key, JSON value)

    def __len__(self) -> int:
        return len(self.records)


def build_workload(events: int, subjects: int) -> Workload:
    traffic = Traffic(REPO_ROOT / "schemas" / "examples", subjects=subjects)
    records: list[tuple[str, bytes | None, bytes]] = []
    for topic, event in traffic.stream(events):
        key = event.get("customer_id")
        records.append((topic, key.encode() if key else None, json.dumps(event).encode()))
    return Workload(records)


# --- Kafka helpers ----------------------------------------------------------------------------

def create_topics(bootstrap: str, names: Iterable[str]) -> None:
    admin = admin_client(bootstrap)
    try:
        admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    finally:
        admin.close()


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Best effort: the in-memory broker keeps every record of every topic until it stops."""
    try:
        admin = admin_client(bootstrap)
    except KafkaError:
        return
    try:
        names = [t for t in admin.list_topics() if t.startswith(prefix)]
        if names:
            admin.delete_topics(names)
    except KafkaError as exc:
        progress(f"  (could not delete topics {prefix}*: {type(exc).__name__})")
    finally:
        admin.close()


async def preload(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-preload", acks="all",
                                linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await producer.flush()
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


@dataclass
class Collected:
    counts: Counter[str] = field(default_factory=Counter)
    timestamps: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def rate(self) -> tuple[float, float]:
        """(records/s, seconds) from the first to the last output record's CreateTime."""
        if len(self.timestamps) < 2:
            return 0.0, 0.0
        span = (max(self.timestamps) - min(self.timestamps)) / 1000
        return (self.total / span if span > 0 else float("inf")), span


async def collect(bootstrap: str, topics: Sequence[str], expect: int, timeout: float = 120.0) -> Collected:
    """Read ``topics`` from the beginning (no group) until ``expect`` records and a quiet 0.5 s."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-collect", group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    found = Collected()
    try:
        await consumer.topics()   # fills the metadata cache
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            if batch:
                last = now
                for tp, messages in batch.items():
                    found.counts[tp.topic] += len(messages)
                    found.timestamps += [m.timestamp for m in messages]
            elif now - last > (0.5 if found.total >= expect else 5.0):
                break
        return found
    finally:
        await consumer.stop()


# --- process helpers --------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int | None) -> tuple[float, float]:
    """CPU seconds (main thread, all other threads) of a process, from /proc; zeros if gone."""
    main = others = 0.0
    if pid is None:
        return main, others
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
                seconds = (int(fields[11]) + int(fields[12])) / _TICK
                if int(task) == pid:
                    main += seconds
                else:
                    others += seconds
    return main, others


def family_cpu(pid: int | None) -> tuple[float, float]:
    """thread_cpu of a process plus its direct children's (a supervisor and its worker processes)."""
    children: list[int] = []
    if pid is not None:
        for entry in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{entry}/stat") as handle:
                if int(handle.read().rpartition(")")[2].split()[1]) == pid:   # the parent pid field
                    children.append(int(entry))
    totals = [thread_cpu(p) for p in (pid, *children)]
    return sum(t[0] for t in totals), sum(t[1] for t in totals)


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK   # minus idle and iowait; guests are in user


@dataclass
class CpuWindow:
    """CPU use of the measured process (with ``family``: and its children), the broker and everything
    else between start() and stop().

    "rest of machine" is whatever else ran meanwhile (other users' jobs, this script's polling):
    on a shared 2-core machine it is the first thing to check when a figure looks low.
    """

    pid: int | None
    broker_pid: int | None
    family: bool = False   # count the process's children too (`lethe run --processes N`)
    began: float = 0.0
    main0: float = 0.0
    others0: float = 0.0
    broker0: float = 0.0
    busy0: float = 0.0
    rest: float = 0.0
    note: str = ""

    def start(self) -> None:
        self.began = time.monotonic()
        self.main0, self.others0 = self._cpu()
        self.broker0 = sum(thread_cpu(self.broker_pid))
        self.busy0 = machine_busy()

    def _cpu(self) -> tuple[float, float]:
        return family_cpu(self.pid) if self.family else thread_cpu(self.pid)

    def stop(self) -> None:
        wall = max(time.monotonic() - self.began, 1e-9)
        main, others = self._cpu()
        broker = sum(thread_cpu(self.broker_pid))
        busy = machine_busy() - self.busy0
        ours = (main - self.main0) + (others - self.others0) + (broker - self.broker0)
        self.rest = max(busy - ours, 0.0) / wall
        self.note = (f"main thread {100 * (main - self.main0) / wall:.0f}%, "
                     f"other threads {100 * (others - self.others0) / wall:.0f}%, "
                     f"broker {100 * (broker - self.broker0) / wall:.0f}%, rest of machine {100 * self.rest:.0f}%")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            progress(f"  pid {process.pid} ignored {signal.Signals(sig).name} for {timeout:.0f}s; killing it")
            process.kill()
            process.wait(10)
    return int(process.returncode)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class BenchError(RuntimeError):
    pass


# --- measurements -----------------------------------------------------------------------------

@dataclass
class Sample:
    rate: float
    seconds: float
    note: str = ""
    rest: float = 0.0      # CPU (in cores) used by other processes during the measured window



def timeout_for(n: int) -> float:
    return 90.0 + n / 500


def check_count(got: int, n: int, what: str) -> None:
    if got != n:
        raise BenchError(f"{what}: {got} records out for {n} in")


class LineReader:
    """Lines of a child's stdout, read on a thread so that waiting can time out."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            self.lines.put(raw.decode(errors="replace").strip())

    def wait_for(self, prefix: str, deadline: float, alive: Callable[[], bool]) -> str:
        while time.monotonic() < deadline and alive():
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line
        raise BenchError(f"no {prefix!r} from the child ({'timed out' if alive() else 'it exited'})")

