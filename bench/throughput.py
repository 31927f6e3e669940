"""Throughput of Lethe's worker against the Python pass-through limits, on the embedded broker.

    .venv/bin/python bench/throughput.py [--events N] [--runs K] [--profile]

One embedded broker for the whole run; every measurement gets its own topics (4 partitions, a
distinct prefix) and its own consumer group, and its input is loaded before the consumer starts.
Measured paths:

  aiokafka    AIOKafkaConsumer.getmany -> AIOKafkaProducer.send, raw bytes, in this process
  faust-app   Faust agent, take_events(2000, within=0.05) -> app.producer.send (subprocess)
  faust       the same agent -> a separate aiokafka producer configured like Lethe's (subprocess)
  lethe       `lethe run` (subprocess): decode, validate, tag, anonymize, encode, produce
  lethe2      `lethe run --processes 2` (subprocess): the same, two supervised worker processes
  processors  TopicPipeline.decode + anonymize in batches of 2000, no Kafka (the Python upper bound)

A Kafka path's rate is records / (last output timestamp - first output timestamp), the producer's
CreateTime of the records it wrote: start-up, group join and shut-down fall outside that span.
Every path runs K times (interleaved) and the median is reported. Progress goes to stderr, the
results to stdout. ``--profile`` instead runs the lethe path once with the worker under cProfile
and prints its top functions. This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import pstats
import queue
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from processors.decode import Limits
from processors.pipeline import TopicPipeline
from processors.policy import load_policy
from processors.pseudonym import new_subject_secret
from processors.sample import Traffic
from processors.schemas import SchemaCatalog
from streams.broker import EmbeddedBroker, free_port
from streams.settings import REPO_ROOT, Settings
from streams.topics import admin_client, ensure_topics

HERE = Path(__file__).resolve().parent
PARTITIONS = 4
SESSION_TIMEOUT_S = 6.0
BATCH = 2000
WITHIN_S = 0.05
SOURCES = ("orders.v1", "logs.v1")
OUTPUTS = ("orders.anonymized.v1", "logs.anonymized.v1", "dlq.v1")
TARGET = 20_000.0
PATHS = ("aiokafka", "faust-app", "faust", "lethe", "lethe2", "processors")
LABELS = {
    "aiokafka": "aiokafka pass-through (getmany -> send)",
    "faust-app": "Faust pass-through, take_events -> app.producer",
    "faust": "Faust pass-through, take_events -> aiokafka producer",
    "lethe": "Lethe full path (`lethe run`, direct ingest)",
    "lethe2": "Lethe full path, 2 worker processes (`lethe run --processes 2`)",
    "processors": "processors only: decode + anonymize (no Kafka)",
}
REFERENCE = (
    ("aiokafka consume A -> produce B (raw bytes)", "125.0k"),
    ("aiokafka producer alone", "118.7k"),
    ("Faust agent pass-through, per event", "7.3k"),
    ("Faust take_events + app.producer.send (raw)", "12.8k"),
    ("Presidio (NLP PII detection)", "~130"),
)
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
    admin = admin_client(bootstrap)
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


async def _aiokafka_passthrough(bootstrap: str, tag: str, n: int, broker_pid: int | None,
                                deadline: float) -> CpuWindow:
    src, dst = f"{tag}.a", f"{tag}.b"
    consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=tag, client_id=f"{tag}-in",
                                session_timeout_ms=int(SESSION_TIMEOUT_S * 1000), heartbeat_interval_ms=2000,
                                auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id=f"{tag}-out", acks="all",
                                linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    await consumer.start()
    cpu = CpuWindow(os.getpid(), broker_pid)
    try:
        count = 0
        while count < n:
            if time.monotonic() > deadline:
                raise BenchError(f"aiokafka pass-through moved only {count}/{n} records in time")
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            if count == 0:
                cpu.start()
            futures = []
            for messages in batch.values():
                for m in messages:
                    futures.append(await producer.send(dst, m.value, key=m.key))
            await asyncio.gather(*futures)
            count += len(futures)
        cpu.stop()
        cpu.note = cpu.note.replace("main thread", "this process, main thread")
        return cpu
    finally:
        await consumer.stop()
        await producer.stop()


def measure_aiokafka(bootstrap: str, workload: Workload, tag: str, broker_pid: int | None) -> Sample:
    n = len(workload)
    create_topics(bootstrap, [f"{tag}.a", f"{tag}.b"])
    asyncio.run(preload(bootstrap, ((f"{tag}.a", k, v) for _, k, v in workload.records)))
    cpu = asyncio.run(_aiokafka_passthrough(bootstrap, tag, n, broker_pid, time.monotonic() + timeout_for(n)))
    found = asyncio.run(collect(bootstrap, [f"{tag}.b"], n))
    check_count(found.total, n, "aiokafka pass-through")
    rate, span = found.rate()
    return Sample(rate, span, cpu.note, cpu.rest)


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


def measure_faust(bootstrap: str, workload: Workload, tag: str, broker_pid: int | None, producer: str) -> Sample:
    n = len(workload)
    src, dst = f"{tag}.a", f"{tag}.b"
    create_topics(bootstrap, [src, dst])
    asyncio.run(preload(bootstrap, ((src, k, v) for _, k, v in workload.records)))
    with tempfile.TemporaryDirectory(prefix="bench-faust-") as tmp:
        log_path = Path(tmp) / "worker.log"
        cmd = [sys.executable, str(HERE / "_faust_passthrough.py"), "--bootstrap", bootstrap, "--source", src,
               "--dest", dst, "--app-id", tag, "--events", str(n), "--producer", producer,
               "--batch", str(BATCH), "--within", str(WITHIN_S), "--session-timeout", str(SESSION_TIMEOUT_S)]
        with open(log_path, "wb") as log:
            child = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        assert child.stdout is not None
        reader = LineReader(child.stdout)
        cpu = CpuWindow(child.pid, broker_pid)
        try:
            deadline = time.monotonic() + timeout_for(n)
            alive = lambda: child.poll() is None  # noqa: E731
            reader.wait_for("START", deadline, alive)
            cpu.start()
            reader.wait_for("DONE", deadline, alive)
            cpu.stop()
        except BenchError as exc:
            raise BenchError(f"Faust pass-through: {exc}\n{tail(log_path)}") from None
        finally:
            stop_process(child)
    found = asyncio.run(collect(bootstrap, [dst], n))
    check_count(found.total, n, "Faust pass-through")
    rate, span = found.rate()
    return Sample(rate, span, cpu.note, cpu.rest)


def records_in(ports: Sequence[int]) -> float | None:
    """The workers' lethe_records_in_total over all topics; None while no /metrics answers."""
    total: float | None = None
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                text = response.read().decode()
        except OSError:
            continue
        total = (total or 0.0) + sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                                     if line.startswith("lethe_records_in_total{"))
    return total


def lethe_env(bootstrap: str, tag: str, data_dir: Path, metrics_port: int, key_hex: str) -> dict[str, str]:
    return dict(
        os.environ,
        LETHE_BOOTSTRAP_SERVERS=bootstrap,
        LETHE_TOPIC_PREFIX=f"{tag}.",
        LETHE_APP_ID=tag,
        LETHE_METRICS_PORT=str(metrics_port),
        LETHE_DATA_DIR=str(data_dir),
        LETHE_PARTITIONS=str(PARTITIONS),
        LETHE_BATCH_SIZE=str(BATCH),
        LETHE_BATCH_WITHIN_MS=str(WITHIN_S * 1000),
        LETHE_SESSION_TIMEOUT_S=str(SESSION_TIMEOUT_S),
        LETHE_PSEUDONYM_KEY=key_hex,
        LETHE_LOG_LEVEL="info",
    )


def measure_lethe(bootstrap: str, workload: Workload, tag: str, broker_pid: int | None,
                  profile: Path | None = None, processes: int = 1) -> Sample:
    n = len(workload)
    with tempfile.TemporaryDirectory(prefix="bench-lethe-") as tmp:
        port = free_port()
        # one process: its /metrics on port; N: the supervisor's there, process i's on port + i
        ports = [port] if processes == 1 else [port + i for i in range(1, processes + 1)]
        env = lethe_env(bootstrap, tag, Path(tmp) / "data", port, secrets.token_hex(32))
        settings = Settings.from_env(env)
        ensure_topics(settings, bootstrap)
        asyncio.run(preload(bootstrap, ((settings.topics.name(s), k, v) for s, k, v in workload.records)))
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
        several = ["--processes", str(processes)] if processes > 1 else []
        cmd = [sys.executable, *profiler, "-m", "streams.cli", "run", *several]
        log_path = Path(tmp) / "worker.log"
        with open(log_path, "wb") as log:
            # cwd: Faust writes its data dir ("<app id>-data") into the working directory
            child = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        cpu = CpuWindow(child.pid, broker_pid, family=processes > 1)
        deadline = time.monotonic() + timeout_for(n) + (60 if profile else 0)
        first: tuple[float, float] | None = None
        last: tuple[float, float] = (0.0, 0.0)
        try:
            while True:
                if child.poll() is not None:
                    raise BenchError(f"lethe run exited with code {child.returncode}:\n{tail(log_path)}")
                if time.monotonic() > deadline:
                    raise BenchError(f"lethe run processed {last[1]:.0f}/{n} records in time:\n{tail(log_path)}")
                seen = records_in(ports)
                now = time.monotonic()
                if seen:
                    if first is None:
                        first = (now, seen)
                        cpu.start()
                    last = (now, seen)
                    if seen >= n:
                        cpu.stop()
                        break
                time.sleep(0.25)
        finally:
            code = stop_process(child)
        if code not in (0, 130):
            progress(f"  lethe run exited with code {code} after SIGTERM:\n{tail(log_path, 10)}")
        assert first is not None
        scraped = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
    outputs = [settings.topics.name(t) for t in OUTPUTS]
    found = asyncio.run(collect(bootstrap, outputs, n))
    check_count(found.total, n, "lethe (anonymized outputs + DLQ)")
    rate, span = found.rate()
    split = ", ".join(f"{t.removeprefix(settings.topics.prefix)} {c}" for t, c in sorted(found.counts.items()))
    return Sample(rate, span, f"{cpu.note}; /metrics rate {scraped:,.0f}/s; out: {split}", cpu.rest)


def measure_processors(workload: Workload) -> Sample:
    catalog = SchemaCatalog.load(REPO_ROOT / "schemas")
    policy = load_policy(Path(os.environ.get("LETHE_POLICY", REPO_ROOT / "deploy" / "policy.toml")))
    master = secrets.token_bytes(32)
    pipelines = {s: TopicPipeline(catalog, policy, s, master, Limits(), "json") for s in SOURCES}
    subject_secrets = {k.decode(): new_subject_secret() for _, k, _ in workload.records if k}
    pending: dict[str, list[bytes]] = {s: [] for s in SOURCES}
    decode_s = anonymize_s = 0.0
    outputs = dead = 0

    def run(source: str) -> None:
        nonlocal decode_s, anonymize_s, outputs, dead
        pipeline, values = pipelines[source], pending[source]
        t0 = time.perf_counter()
        decoded = pipeline.decode(values)
        t1 = time.perf_counter()
        result = pipeline.anonymize(decoded, subject_secrets)
        t2 = time.perf_counter()
        decode_s, anonymize_s = decode_s + t1 - t0, anonymize_s + t2 - t1
        # records that reached an output (one record may feed several: partners), for the count check
        outputs, dead = outputs + len({out.index for out in result.outputs}), dead + len(result.dead)
        values.clear()

    cpu = CpuWindow(os.getpid(), None)
    cpu.start()
    for source, _, value in workload.records:
        pending[source].append(value)
        if len(pending[source]) >= BATCH:
            run(source)
    for source in SOURCES:
        if pending[source]:
            run(source)
    cpu.stop()
    check_count(outputs + dead, len(workload), "processors")
    total = decode_s + anonymize_s
    rest = cpu.note.rpartition(", ")[2]
    return Sample(len(workload) / total, total,
                  f"decode {len(workload) / decode_s:,.0f}/s, anonymize+encode {len(workload) / anonymize_s:,.0f}/s, "
                  f"{rest}", cpu.rest)


# --- reporting --------------------------------------------------------------------------------

def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def fmt_ratio(rate: float | None, base: float | None) -> str:
    return "-" if not rate or not base else f"{rate / base:.2f}x"


def report(results: dict[str, list[Sample]], n: int, runs: int) -> None:
    medians = {path: statistics.median(s.rate for s in samples) for path, samples in results.items() if samples}
    base_aiokafka, base_faust = medians.get("aiokafka"), medians.get("faust")
    print(f"\nThroughput, {n:,} JSON events per run, {PARTITIONS} partitions, median of {runs} "
          f"(embedded broker, {os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
    print("| path | events/s (median) | runs | vs aiokafka pass-through | vs Faust pass-through |")
    print("| --- | ---: | --- | ---: | ---: |")
    for path in PATHS:
        if path not in medians:
            continue
        runs_text = " / ".join(f"{s.rate:,.0f}" for s in results[path])
        print(f"| {LABELS[path]} | {fmt_rate(medians[path])} | {runs_text} | "
              f"{fmt_ratio(medians[path], base_aiokafka)} | {fmt_ratio(medians[path], base_faust)} |")
    print("\n'Faust pass-through' in the ratio column is the take_events -> aiokafka producer variant: "
          "Lethe's own structure without the processing.")
    print("\nPer-run detail (CPU during the measured window; 100% = one core):")
    for path in PATHS:
        for i, sample in enumerate(results.get(path, []), 1):
            print(f"  {path:<10} run {i}: {sample.rate:>9,.0f}/s over {sample.seconds:6.2f}s  {sample.note}")
    busy = [f"{path} run {i}" for path in PATHS for i, s in enumerate(results.get(path, []), 1) if s.rest > 0.25]
    if busy:
        print(f"\nWARNING: other processes used more than a quarter of a core during {', '.join(busy)}; "
              "those figures are low by an unknown amount (2 cores in all).")
    lethe = medians.get("lethe")
    if lethe and medians.get("lethe2"):
        print(f"\nScaling, 2 worker processes against 1 (same run, same broker): {medians['lethe2'] / lethe:.2f}x. "
              "The broker shares the machine's cores: its CPU is in the per-run detail above.")
    if lethe is not None:
        verdict = "MET" if lethe >= TARGET else "NOT MET"
        print(f"\nTarget: {TARGET:,.0f} events/s on the full Lethe path -> {verdict} "
              f"(median {lethe:,.0f}/s, {lethe / TARGET:.0%} of target)")
    print("\nReference figures from /work/shared/BROKER-NOTES.md (measured earlier, not in this run; "
          "300-byte records):")
    for label, figure in REFERENCE:
        print(f"  {label:<48} {figure:>7} events/s")


def _short(filename: str) -> str:
    """``faust/streams.py`` for site-packages, ``streams/app.py`` for the repo, ``asyncio/...`` for the stdlib."""
    for marker in ("site-packages/", str(REPO_ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return re.sub(r"^.*/lib/python3\.\d+/", "", filename)


def print_profile(path: Path, top: int = 25) -> None:
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\ncProfile of the worker's main thread, {path}: {total:.1f} wall-clock seconds. Start-up, "
          "group join and idle waits (select.epoll.poll) are included, and so is any time the scheduler "
          "gave the core to another process (see 'rest of machine' above); Faust's consumer thread is "
          "not profiled.")
    for title, index in (("cumulative", 3), ("total (own) time", 2)):
        print(f"\nTop {top} by {title}:\n")
        print(f"{'ncalls':>13} {'tottime':>8} {'cumtime':>8}  function")
        rows = sorted(raw.items(), key=lambda item: item[1][index], reverse=True)[:top]
        for (filename, line, func), (primitive, calls, own, cumulative, _) in rows:
            ncalls = f"{calls}/{primitive}" if calls != primitive else str(calls)
            where = f"{_short(filename)}:{line}({func})" if line else func
            print(f"{ncalls:>13} {own:8.2f} {cumulative:8.2f}  {where}")


def code_fingerprint() -> str:
    """What was measured: a digest of processors/ and streams/ (this script runs no git)."""
    files = sorted(p for d in ("processors", "streams") for p in (REPO_ROOT / d).rglob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    newest = max(files, key=lambda p: p.stat().st_mtime)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(newest.stat().st_mtime))
    return (f"processors/ + streams/ sha256 {digest.hexdigest()[:12]} ({len(files)} files, newest "
            f"{newest.relative_to(REPO_ROOT)} modified {stamp} UTC)")


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events per measurement (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per path; the median is reported (default 3)")
    parser.add_argument("--subjects", type=int, default=10_000, help="distinct customers (default 10000)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {', '.join(PATHS)}")
    parser.add_argument("--policy", type=Path, default=None,
                        help="the policy both Lethe paths run (default deploy/policy.toml; sets LETHE_POLICY)")
    parser.add_argument("--profile", action="store_true",
                        help="run only the lethe path, once, with the worker under cProfile; print its top functions")
    parser.add_argument("--profile-out", type=Path, default=None, help="keep the .prof file here")
    args = parser.parse_args(argv)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown or args.events < 1 or args.runs < 1:
        parser.error(f"unknown paths {unknown}" if unknown else "--events and --runs must be positive")
    if args.profile:
        paths, args.runs = ["lethe"], 1

    fingerprint = code_fingerprint()
    progress(f"code under test: {fingerprint}")
    if args.policy is not None:   # the worker (lethe path) inherits it, the processors path reads it
        os.environ["LETHE_POLICY"] = str(args.policy.resolve())
    progress(f"building {args.events:,} sample events over {args.subjects:,} subjects")
    workload = build_workload(args.events, args.subjects)
    sizes = Counter(s for s, _, _ in workload.records)
    mean_bytes = statistics.mean(len(v) for _, _, v in workload.records)
    progress(f"  {dict(sizes)}, {mean_bytes:.0f} bytes per event on average")
    run_id = f"{os.getpid()}-{int(time.time()) % 100_000}"
    results: dict[str, list[Sample]] = {p: [] for p in paths}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        broker_pid = broker._process.pid if broker._process else None
        progress(f"embedded broker on {broker.bootstrap} (pid {broker_pid})")
        profile_path = args.profile_out or Path(tmp) / "lethe-worker.prof"
        for run in range(1, args.runs + 1):
            for path in paths:
                tag = f"bench-{run_id}-{path}-{run}"
                progress(f"{path} run {run}/{args.runs}: pre-loading {len(workload):,} events, then measuring")
                began = time.monotonic()
                if path == "aiokafka":
                    sample = measure_aiokafka(broker.bootstrap, workload, tag, broker_pid)
                elif path in ("faust", "faust-app"):
                    producer = "app" if path == "faust-app" else "aiokafka"
                    sample = measure_faust(broker.bootstrap, workload, tag, broker_pid, producer)
                elif path == "lethe":
                    sample = measure_lethe(broker.bootstrap, workload, tag, broker_pid,
                                           profile_path if args.profile else None)
                elif path == "lethe2":
                    sample = measure_lethe(broker.bootstrap, workload, tag, broker_pid, processes=2)
                else:
                    sample = measure_processors(workload)
                if path != "processors":
                    delete_topics(broker.bootstrap, tag)
                results[path].append(sample)
                progress(f"  {path} run {run}: {sample.rate:,.0f} events/s over {sample.seconds:.2f}s "
                         f"({time.monotonic() - began:.0f}s with set-up); {sample.note}")
        if code_fingerprint() != fingerprint:
            progress("WARNING: processors/ or streams/ changed during the run; the figures mix code versions")
        if args.profile:
            if not profile_path.is_file() or profile_path.stat().st_size == 0:
                raise BenchError(f"the worker stopped without writing its profile to {profile_path}")
            print(f"\nlethe run under cProfile: {results['lethe'][0].rate:,.0f} events/s "
                  f"({len(workload):,} events; the profiler slows it down, so this is not the throughput)")
            print(f"  {results['lethe'][0].note}")
            print_profile(profile_path)
            return 0
    report(results, len(workload), args.runs)
    print(f"\nCode measured: {fingerprint}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
