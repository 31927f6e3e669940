"""Erasure latency with three store agents while orders and logs flow, on the embedded broker.

    .venv/bin/python bench/erasure.py [--requests 1000] [--rate 20] [--traffic-rate 500]
                                      [--subjects 5000] [--baseline-requests 200]

One embedded broker. A phase starts, with its own topic prefix, app id and SQLite files: one
``lethe run`` worker whose policy (``deploy/policy.toml`` without its partners) lists K stores in
``[rights] stores``, and per store a
``lethe sink --name db-N`` and a ``lethe store-agent`` (mapping ``store = "db-N"``) on that
store's database. It pre-loads one order and one log event for each of ``--subjects`` customers
and waits until every sink has written them, files a few warm-up erasures (so every agent has
joined its group), then, while a thread keeps publishing orders and logs of the *other* customers
at ``--traffic-rate``, files one erase request per customer at ``--rate`` (occurred_at = the
publish time) and reads ``privacy.audit.v1`` and ``lifecycle.acks.v1`` until every request has
its ``completion`` record.

Figures per phase: the worker's ``seconds_to_complete`` (occurred_at -> the last store's ack, as
handled by the worker) and the end to end as seen here (publish -> completion record read back),
p50/p90/p99/max; where the time goes (request -> worker, request -> each store's ack, last ack ->
completion, completion -> read here); a probe of the bare broker round trip (kafka-python produce
-> a consumer with the store agents' settings) during the phase. The main phase has three stores;
the baseline phase (``--baseline-requests``, 0 skips it) has one, with the same traffic, so the
ratio shows what waiting for three agents on two cores costs. After completion each database is
checked to hold no row of an erased customer (and rows of the others), because a latency of a
broken erasure means nothing. Progress goes to stderr, the results to stdout. A benchmark, not a
test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _bench_kit import delete_topics
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from processors.retention import FAMILIES, parse_time
from processors.rights import request_command_id
from processors.sample import Person, Traffic
from streams.broker import EmbeddedBroker, free_port
from streams.client import publish
from streams.settings import REPO_ROOT, Settings
from streams.topics import admin_client, ensure_topics

sys.path.insert(0, str(REPO_ROOT / "tests"))
from support import without_partners

WARMUP = 3
PROBE_EVERY_S = 0.25
_STARTED = time.monotonic()
_TICK = os.sysconf("SC_CLK_TCK")


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(max(math.ceil(share * len(ordered)) - 1, 0), len(ordered) - 1)]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process and all its threads (/proc); 0 once it is gone."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy() -> float:
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- the stack of one phase ---------------------------------------------------------------------

class Stack:
    """A worker and, per store, a sink and a store agent on the store's own SQLite file."""

    def __init__(self, bootstrap: str, tag: str, stores: list[str], workdir: Path) -> None:
        self.bootstrap, self.tag, self.stores, self.dir = bootstrap, tag, stores, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # without the partners: an erasure of a subject whose orders were shared would also wait for each
        # partner's store agent (docs/sharing.md), which the bench does not run
        policy = without_partners((REPO_ROOT / "deploy" / "policy.toml").read_text())
        line = 'stores = ["shop-db"]'
        if line not in policy:
            raise BenchError(f"deploy/policy.toml has no line {line!r} to replace")
        (workdir / "policy.toml").write_text(policy.replace(line, "stores = [" + ", ".join(
            f'"{s}"' for s in stores) + "]"))
        mapping = (REPO_ROOT / "deploy" / "store-mapping.toml").read_text()
        if 'store = "shop-db"' not in mapping:
            raise BenchError("deploy/store-mapping.toml has no line store = \"shop-db\"")
        for store in stores:
            (workdir / f"mapping-{store}.toml").write_text(mapping.replace('store = "shop-db"', f'store = "{store}"'))
        self.metrics_port = free_port()
        self.env = dict(
            os.environ,
            LETHE_BOOTSTRAP_SERVERS=bootstrap,
            LETHE_TOPIC_PREFIX=f"{tag}.",
            LETHE_APP_ID=tag,
            LETHE_DATA_DIR=str(workdir / "data"),
            LETHE_STORE_URL=f"sqlite:///{workdir / 'lethe.db'}",
            LETHE_POLICY=str(workdir / "policy.toml"),
            LETHE_SESSION_TIMEOUT_S="4",
            LETHE_PSEUDONYM_KEY=secrets.token_hex(32),
            LETHE_METRICS_PORT=str(self.metrics_port),
        )
        self.settings = Settings.from_env(self.env)
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def db_path(self, store: str) -> Path:
        return self.dir / f"{store}.db"

    def topic(self, canonical: str) -> str:
        return self.settings.topics.name(canonical)

    def _spawn(self, role: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log_path = self.dir / f"{role}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env={**self.env, **extra},
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO_ROOT)
        self.processes.append((role, process, log_path))
        return process

    def start(self) -> None:
        ensure_topics(self.settings, self.bootstrap)
        admin = admin_client(self.bootstrap)
        try:
            admin.create_topics([NewTopic(self.topic("bench.probe"), 1, 1)])
        finally:
            admin.close()
        worker = self._spawn("worker", ["run"])
        deadline = time.monotonic() + 90
        while "lethe_info" not in self.metrics_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the worker did not start:\n{tail(self.dir / 'worker.log')}")
            time.sleep(0.2)
        for store in self.stores:
            url = f"sqlite:///{self.db_path(store)}"
            self._spawn(f"sink-{store}", ["sink", "--name", store], LETHE_STORE_URL=url, LETHE_METRICS_PORT="0")
            self._spawn(f"agent-{store}", ["store-agent", "--mapping", str(self.dir / f"mapping-{store}.toml")],
                        LETHE_STORE_URL=url, LETHE_METRICS_PORT="0")

    def check_alive(self) -> None:
        for role, process, log_path in self.processes:
            if process.poll() is not None:
                raise BenchError(f"{role} exited with code {process.returncode}:\n{tail(log_path)}")

    def stop(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for role, process, log_path in self.processes:
            try:
                code = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait(10)
            if code not in (0, -signal.SIGTERM):
                progress(f"  {role} exited with code {code} after SIGTERM:\n{tail(log_path, 8)}")

    def metrics_text(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=3) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    def pids(self) -> dict[str, int]:
        return {role: process.pid for role, process, _ in self.processes}

    def log_count(self, pattern: str) -> dict[str, int]:
        found = {}
        for role, _, log_path in self.processes:
            try:
                found[role] = len(re.findall(pattern, log_path.read_text(errors="replace")))
            except OSError:
                found[role] = 0
        return {role: n for role, n in found.items() if n}


def count_rows(db: Path, subjects: list[str]) -> tuple[int, int, int, int]:
    """(orders of ``subjects``, logs of ``subjects``, all orders, all logs) in a sink's database."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        mine = []
        for table in ("orders", "logs"):
            total = 0
            for i in range(0, len(subjects), 500):
                chunk = subjects[i:i + 500]
                total += conn.execute(f"SELECT count(*) FROM {table} WHERE customer_id IN "
                                      f"({','.join('?' * len(chunk))})", chunk).fetchone()[0]
            mine.append(total)
        every = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("orders", "logs")]
        return mine[0], mine[1], every[0], every[1]
    finally:
        conn.close()


def records_in(stack: Stack) -> float:
    wanted = (stack.topic("orders.v1"), stack.topic("logs.v1"))
    total = 0.0
    for line in stack.metrics_text().splitlines():
        if line.startswith("lethe_records_in_total{") and any(f'"{t}"' in line for t in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram(stack: Stack, name: str) -> tuple[int, float, list[tuple[float, int]]]:
    """(count, sum, [(upper bound, cumulative count)]) of a histogram on the worker's /metrics."""
    buckets: list[tuple[float, int]] = []
    count, total = 0, 0.0
    for line in stack.metrics_text().splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = re.search(r'le="([^"]+)"', line)
            if bound:
                buckets.append((float(bound.group(1)), int(float(line.rsplit(" ", 1)[1]))))
        elif line.startswith(f"{name}_count"):
            count = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith(f"{name}_sum"):
            total = float(line.rsplit(" ", 1)[1])
    return count, total, buckets


def bucket_of(buckets: list[tuple[float, int]], count: int, share: float) -> str:
    for bound, cumulative in buckets:
        if count and cumulative >= share * count:
            return f"<= {bound:g} s"
    return "-"


# --- threads: background traffic, broker round-trip probe, audit/ack collector ------------------

class Background(threading.Thread):
    """Orders and logs of ``people`` at ``rate`` events/s until stopped."""

    def __init__(self, bootstrap: str, stack: Stack, people: list[Person], rate: float, subjects: int) -> None:
        super().__init__(daemon=True, name="bench-traffic")
        self.bootstrap, self.people, self.rate = bootstrap, people, rate
        self.topics = {t: stack.topic(t) for t in ("orders.v1", "logs.v1")}
        # another seed: the same customer ids, but event and order ids the pre-load did not use
        self.traffic = Traffic(REPO_ROOT / "schemas" / "examples", subjects=subjects, seed=8)
        self.stopping = threading.Event()
        self.sent = self.acked = self.failed = 0
        self.began = self.ended = 0.0

    def _ok(self, _: Any) -> None:
        self.acked += 1

    def _error(self, _: Any) -> None:
        self.failed += 1

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, client_id="bench-traffic", acks="all",
                                 linger_ms=5)
        rng = self.traffic.rng
        self.began = time.monotonic()
        try:
            while not self.stopping.is_set():
                due = int((time.monotonic() - self.began) * self.rate) - self.sent
                for _ in range(due):
                    person = rng.choice(self.people)
                    topic, event = (("logs.v1", self.traffic.log(person)) if rng.random() < 0.5
                                    else ("orders.v1", self.traffic.order(person)))
                    future = producer.send(self.topics[topic], key=person.customer_id.encode(),
                                           value=json.dumps(event).encode())
                    future.add_callback(self._ok)
                    future.add_errback(self._error)
                    self.sent += 1
                self.stopping.wait(0.02)
            producer.flush(30)
        finally:
            self.ended = time.monotonic()
            producer.close(10)

    def achieved(self) -> float:
        return self.acked / max((self.ended or time.monotonic()) - self.began, 1e-9)


class Probe(threading.Thread):
    """Produce one record (acks=all), read it back with a consumer configured like a store agent's."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True, name="bench-probe")
        self.bootstrap, self.topic = bootstrap, topic
        self.stopping = threading.Event()
        self.samples: list[tuple[float, float]] = []   # (sent at, round trip)
        self.lost = 0

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, client_id="bench-probe", acks="all")
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="bench-probe", group_id=None,
                                 enable_auto_commit=False)
        tp = TopicPartition(self.topic, 0)
        consumer.assign([tp])
        consumer.seek_to_end(tp)
        consumer.position(tp)
        try:
            n = 0
            while not self.stopping.is_set():
                n += 1
                began = time.time()
                producer.send(self.topic, value=str(n).encode())
                producer.flush()
                seen = False
                while not seen and time.time() - began < 10:
                    for records in consumer.poll(timeout_ms=500).values():
                        seen = seen or any(r.value == str(n).encode() for r in records)
                if seen:
                    self.samples.append((began, time.time() - began))
                else:
                    self.lost += 1
                self.stopping.wait(max(PROBE_EVERY_S - (time.time() - began), 0.0))
        finally:
            consumer.close()
            producer.close(5)


class Sampler(threading.Thread):
    """CPU seconds of every process of the phase and of the whole machine, once a second."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True, name="bench-cpu")
        self.pids = pids
        self.stopping = threading.Event()
        self.snapshots: list[tuple[float, dict[str, float], float]] = []   # (epoch, cpu by role, machine busy)

    def snapshot(self) -> None:
        self.snapshots.append((time.time(), {r: cpu_seconds(p) for r, p in self.pids.items()}, machine_busy()))

    def run(self) -> None:
        while not self.stopping.is_set():
            self.snapshot()
            self.stopping.wait(1.0)
        self.snapshot()

    def usage(self, start: float, end: float) -> dict[str, float]:
        """Cores used by each role (and 'machine') between the snapshots nearest to ``start`` and ``end``."""
        if len(self.snapshots) < 2:
            return {}
        first = min(self.snapshots, key=lambda s: abs(s[0] - start))
        last = min(self.snapshots, key=lambda s: abs(s[0] - end))
        if last[0] - first[0] < 0.5:
            return {}
        wall = last[0] - first[0]
        used = {r: (last[1][r] - first[1][r]) / wall for r in self.pids}
        used["machine"] = (last[2] - first[2]) / wall
        return used


@dataclass
class Fifth:
    """The requests filed in one fifth of the measured window, and what ran meanwhile."""

    began: float                 # seconds since the first measured request was filed
    ended: float
    seconds: list[float]
    intake: list[float]          # request -> worker
    acks: list[float]            # request -> last store's ack
    completion: list[float]      # last ack -> completion
    probe: list[float]
    cpu: dict[str, float]


@dataclass
class Track:
    """What was seen of one request."""

    published: float = 0.0                     # epoch seconds, here, = the request's occurred_at
    received: float | None = None              # the worker's request_received audit
    completed: float | None = None             # the worker's completion audit
    seconds_to_complete: float | None = None   # its details.seconds_to_complete
    read_at: float | None = None               # when this process read the completion record
    acked: dict[tuple[str, str], float] = field(default_factory=dict)      # (family, store) -> ack's acked_at
    ack_handled: dict[tuple[str, str], float] = field(default_factory=dict)  # ... -> the worker's ack audit
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)
    retries: int = 0


class Collector(threading.Thread):
    """Reads the audit and ack topics from the beginning and fills a Track per known request."""

    def __init__(self, bootstrap: str, stack: Stack, tracks: dict[str, Track]) -> None:
        super().__init__(daemon=True, name="bench-collector")
        self.bootstrap, self.tracks = bootstrap, tracks
        self.audit_topic, self.acks_topic = stack.topic("privacy.audit.v1"), stack.topic("lifecycle.acks.v1")
        self.by_command = {request_command_id(rid, family, "delete"): (rid, family)
                           for rid in tracks for family in FAMILIES}
        self.stopping = threading.Event()
        self.completed = 0
        self.ack_statuses: Counter[tuple[str, str]] = Counter()   # (store, status) of every ack record
        self.failures: list[str] = []

    def run(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="bench-collector", group_id=None,
                                 enable_auto_commit=False, fetch_max_wait_ms=50)
        try:
            partitions = []
            for topic in (self.audit_topic, self.acks_topic):
                ids = consumer.partitions_for_topic(topic)
                waited = time.monotonic() + 20
                while not ids and time.monotonic() < waited:
                    time.sleep(0.2)
                    ids = consumer.partitions_for_topic(topic)
                partitions += [TopicPartition(topic, p) for p in sorted(ids or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            while not self.stopping.is_set():
                batch = consumer.poll(timeout_ms=100)
                now = time.time()
                for tp, records in batch.items():
                    for record in records:
                        try:
                            value = json.loads(record.value or b"{}")
                        except ValueError:
                            continue
                        if tp.topic == self.acks_topic:
                            self._ack(value)
                        else:
                            self._audit(value, now)
        finally:
            consumer.close()

    def _ack(self, ack: dict[str, Any]) -> None:
        found = self.by_command.get(ack.get("command_id", ""))
        if found is None:
            return
        rid, family = found
        key = (family, str(ack.get("store")))
        self.ack_statuses[(key[1], str(ack.get("status")))] += 1
        track = self.tracks[rid]
        track.acked.setdefault(key, parse_time(ack["acked_at"]))
        track.statuses[key] = str(ack.get("status"))

    def _audit(self, audit: dict[str, Any], now: float) -> None:
        track = self.tracks.get(audit.get("request_id") or "")
        if track is None:
            return
        action, details, at = audit.get("action"), audit.get("details") or {}, parse_time(audit["occurred_at"])
        if action == "request_received":
            track.received = at
        elif action == "ack":
            found = self.by_command.get(details.get("command_id", ""))
            if found is not None:
                track.ack_handled.setdefault((found[1], details.get("store", "?")), at)
        elif action == "retry":
            track.retries += 1
        elif action == "request_failed":
            self.failures.append(f"{audit.get('request_id')}: {details.get('reason')}")
        elif action == "completion" and track.completed is None:
            track.completed, track.read_at = at, now
            track.seconds_to_complete = float(details["seconds_to_complete"])
            self.completed += 1


# --- one phase ------------------------------------------------------------------------------------

@dataclass
class Result:
    stores: list[str]
    requests: int
    rate: float
    seconds: list[float]              # the worker's seconds_to_complete
    end_to_end: list[float]           # publish -> completion record read here
    stages: dict[str, list[float]]
    per_store: dict[str, list[float]]
    fifths: list[Fifth]               # the requests in filing order, in five parts
    agent_rates: dict[str, float]     # acks per second each store agent sustained while requests arrived
    probe: list[float]
    probe_lost: int
    traffic_rate: float
    traffic_sent: int
    traffic_failed: int
    filing_rate: float
    ack_statuses: Counter[tuple[str, str]]
    retries: int
    rows_before: dict[str, tuple[int, int, int, int]]
    rows_after: dict[str, tuple[int, int, int, int]]
    cpu: dict[str, float]
    wall: float
    histogram: tuple[int, float, list[tuple[float, int]]]
    log_warnings: dict[str, int]


def run_phase(broker: EmbeddedBroker, run_id: str, stores: list[str], n: int, args: argparse.Namespace,
              workdir: Path) -> Result:
    tag = f"bench-erasure-{run_id}-{len(stores)}s"
    stack = Stack(broker.bootstrap, tag, stores, workdir / tag)
    progress(f"phase {len(stores)} store(s) {', '.join(stores)}: prefix {tag}., files in {stack.dir}")
    stack.start()
    try:
        return _measure(broker, stack, n, args)
    finally:
        stack.stop()
        delete_topics(broker.bootstrap, f"{tag}.")


def _measure(broker: EmbeddedBroker, stack: Stack, n: int, args: argparse.Namespace) -> Result:
    bootstrap = broker.bootstrap
    traffic = Traffic(REPO_ROOT / "schemas" / "examples", subjects=args.subjects)
    people = traffic.people
    erased, others = people[:n], people[n:]

    # pre-load: one order and one log per customer; wait until every sink has them all
    records, order_ids = [], set()
    for person in people:
        order, entry = traffic.order(person), traffic.log(person)
        order_ids.add(order["order_id"])
        key = person.customer_id.encode()
        records += [(stack.topic("orders.v1"), key, json.dumps(order).encode()),
                    (stack.topic("logs.v1"), key, json.dumps(entry).encode())]
    publish(bootstrap, records)
    progress(f"  pre-loaded {len(records):,} events ({len(people):,} customers); waiting for the worker and "
             f"{len(stack.stores)} sink(s)")
    deadline = time.monotonic() + 300
    while True:
        stack.check_alive()
        counts = {}
        for store in stack.stores:
            try:
                counts[store] = count_rows(stack.db_path(store), [])[2:]
            except sqlite3.Error:
                counts[store] = (0, 0)
        done_in = records_in(stack)
        if done_in >= len(records) and all(c == (len(order_ids), len(people)) for c in counts.values()):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"pre-load not materialized in 300 s: worker {done_in:.0f}/{len(records)}, "
                             f"rows {counts} (want {len(order_ids)} orders, {len(people)} logs)")
        time.sleep(1.0)
    subject_ids = [p.customer_id for p in erased]
    rows_before = {s: count_rows(stack.db_path(s), subject_ids) for s in stack.stores}
    progress(f"  every sink has {len(order_ids):,} orders and {len(people):,} logs; the {n:,} customers to "
             f"erase have {rows_before[stack.stores[0]][0]:,} + {rows_before[stack.stores[0]][1]:,} rows per store")

    # every request this phase files, known up front so the collector can map command ids
    requests_topic = stack.topic("privacy-requests.v1")
    warm = {f"{stack.tag}-warmup-{i}": f"bench-warmup-{i}" for i in range(WARMUP)}
    measured = {f"{stack.tag}-req-{i:05d}": p.customer_id for i, p in enumerate(erased)}
    tracks = {rid: Track() for rid in [*warm, *measured]}
    collector = Collector(bootstrap, stack, tracks)
    collector.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="bench-requests", acks="all", linger_ms=0)

    def file(rid: str, subject: str) -> None:
        published = time.time()
        tracks[rid].published = published
        event = {"request_id": rid, "occurred_at": datetime.fromtimestamp(published, UTC).isoformat(),
                 "customer_id": subject, "type": "erase", "details": {}, "channel": "api"}
        producer.send(requests_topic, key=subject.encode(), value=json.dumps(event).encode())

    # warm-up: a few erasures of customers without rows, so every agent has joined its group
    for rid, subject in warm.items():
        file(rid, subject)
    producer.flush()
    deadline = time.monotonic() + 120
    while any(tracks[rid].completed is None for rid in warm):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"warm-up erasures did not complete in 120 s:\n{tail(stack.dir / 'worker.log')}")
        time.sleep(0.2)
    progress(f"  warm-up: {WARMUP} erasures completed (max {max(tracks[r].seconds_to_complete or 0 for r in warm):.2f}"
             f" s); starting {args.traffic_rate:.0f} events/s of traffic and {n:,} erasures at {args.rate:g}/s")

    background = Background(bootstrap, stack, others, args.traffic_rate, args.subjects)
    probe = Probe(bootstrap, stack.topic("bench.probe"))
    broker_pid = broker._process.pid if broker._process else 0
    pids = {**stack.pids(), "broker": broker_pid, "bench (this process)": os.getpid()}
    cpu0 = {role: cpu_seconds(pid) for role, pid in pids.items()}
    busy0, began = machine_busy(), time.monotonic()
    sampler = Sampler(pids)
    sampler.start()
    background.start()
    time.sleep(2.0)   # traffic flowing before the first request
    probe.start()

    filed, first_filed = 0, time.monotonic()
    last_report = time.monotonic()
    deadline = first_filed + n / args.rate + args.timeout
    pending = list(measured.items())
    while collector.completed < len(tracks):
        now = time.monotonic()
        while filed < n and now >= first_filed + filed / args.rate:
            file(*pending[filed])
            filed += 1
        if now - last_report >= 5:
            stack.check_alive()
            done = [t.seconds_to_complete for r, t in tracks.items() if r in measured and t.seconds_to_complete]
            p50 = f", p50 so far {percentile(done, 0.5):.2f} s" if done else ""
            progress(f"  filed {filed:,}/{n:,}, completed {len(done):,}/{n:,}{p50}; traffic "
                     f"{background.acked:,} events ({background.achieved():,.0f}/s)")
            last_report = now
        if now > deadline:
            missing = [r for r in measured if tracks[r].completed is None]
            raise BenchError(f"{len(missing)} of {n} erasures not complete {args.timeout:.0f} s after the last "
                             f"was due (first: {missing[:3]}):\n{tail(stack.dir / 'worker.log')}")
        time.sleep(min(max(first_filed + filed / args.rate - time.monotonic(), 0.001), 0.05)
                   if filed < n else 0.1)
    filing_rate = (n - 1) / max(max(tracks[r].published for r in measured) -
                                min(tracks[r].published for r in measured), 1e-9) if n > 1 else 0.0
    time.sleep(1.5)   # the last acks' records, read after their completion records
    wall = time.monotonic() - began
    cpu = {role: (cpu_seconds(pid) - cpu0[role]) / wall for role, pid in pids.items()}
    cpu["rest of machine"] = max(machine_busy() - busy0 - sum(cpu.values()) * wall, 0.0) / wall
    for thread in (probe, background, collector, sampler):
        thread.stopping.set()
    for thread in (probe, background, collector, sampler):
        thread.join(60)
    producer.close(10)
    progress(f"  all {n:,} erasures completed; traffic {background.acked:,} events at "
             f"{background.achieved():,.0f}/s; checking the databases")

    rows_after = {s: count_rows(stack.db_path(s), subject_ids) for s in stack.stores}
    hist = histogram(stack, "lethe_erasure_completion_seconds")
    mine = [tracks[r] for r in measured]
    stages: dict[str, list[float]] = {"request -> worker": [], "request -> last store's ack (acked_at)": [],
                                      "last ack -> completion (worker)": [], "completion -> read here": []}
    per_store: dict[str, list[float]] = {s: [] for s in stack.stores}
    for t in mine:
        if t.received is not None:
            stages["request -> worker"].append(t.received - t.published)
        if t.acked:
            last = max(t.acked.values())
            stages["request -> last store's ack (acked_at)"].append(last - t.published)
            if t.completed is not None:
                stages["last ack -> completion (worker)"].append(t.completed - last)
        if t.completed is not None and t.read_at is not None:
            stages["completion -> read here"].append(t.read_at - t.completed)
        for store in stack.stores:
            times = [at for (_, s), at in t.acked.items() if s == store]
            if len(times) == len(FAMILIES):
                per_store[store].append(max(times) - t.published)
    fifths = []
    size = max(math.ceil(len(mine) / 5), 1)
    start = mine[0].published
    for part in (mine[i:i + size] for i in range(0, len(mine), size)):
        lo, hi = part[0].published, part[-1].published
        fifths.append(Fifth(
            lo - start, hi - start,
            seconds=[t.seconds_to_complete for t in part if t.seconds_to_complete is not None],
            intake=[t.received - t.published for t in part if t.received is not None],
            acks=[max(t.acked.values()) - t.published for t in part if t.acked],
            completion=[t.completed - max(t.acked.values()) for t in part if t.acked and t.completed is not None],
            probe=[rtt for sent, rtt in probe.samples if lo <= sent <= hi],
            cpu=sampler.usage(lo, hi)))
    agent_rates = {}
    for store in stack.stores:
        acked = sorted(at for t in mine for (_, s), at in t.acked.items() if s == store)
        span = acked[-1] - acked[0] if len(acked) > 1 else 0.0
        agent_rates[store] = (len(acked) - 1) / span if span > 0 else 0.0
    if collector.failures:
        progress(f"  WARNING: {len(collector.failures)} requests failed, e.g. {collector.failures[:3]}")
    return Result(
        stores=stack.stores, requests=n, rate=args.rate,
        seconds=[t.seconds_to_complete for t in mine if t.seconds_to_complete is not None],
        end_to_end=[t.read_at - t.published for t in mine if t.read_at is not None],
        stages=stages, per_store=per_store, fifths=fifths, agent_rates=agent_rates,
        probe=[rtt for _, rtt in probe.samples], probe_lost=probe.lost,
        traffic_rate=background.achieved(), traffic_sent=background.acked, traffic_failed=background.failed,
        filing_rate=filing_rate, ack_statuses=collector.ack_statuses, retries=sum(t.retries for t in mine),
        rows_before=rows_before, rows_after=rows_after, cpu=cpu, wall=wall, histogram=hist,
        log_warnings=stack.log_count(r"WARNING|Traceback|database is locked"),
    )




# --- reporting ------------------------------------------------------------------------------------

def row(label: str, values: list[float], unit: float = 1.0, digits: int = 2) -> str:
    if not values:
        return f"| {label} | 0 | - | - | - | - | - |"
    cells = [percentile(values, q) * unit for q in (0.5, 0.9, 0.99)] + [max(values) * unit,
                                                                        statistics.mean(values) * unit]
    return f"| {label} | {len(values):,} | " + " | ".join(f"{c:.{digits}f}" for c in cells) + " |"


def ratio(a: list[float], b: list[float], share: float) -> str:
    if not a or not b:
        return "-"
    base = percentile(b, share)
    return f"{percentile(a, share) / base:.2f}x" if base > 0 else "-"


def report(results: list[Result], command: str, traffic_target: float) -> None:
    main = results[0]
    base = results[1] if len(results) > 1 else None
    print(f"\nErasure latency, embedded broker, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"traffic target {traffic_target:,.0f} events/s (orders + logs of customers not being erased)\n")
    print("| measurement (seconds) | requests | p50 | p90 | p99 | max | mean |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        k = f"{len(r.stores)} store{'s' if len(r.stores) > 1 else ''}"
        print(row(f"**{k}**: seconds_to_complete (worker: occurred_at -> last store's ack)", r.seconds))
        print(row(f"{k}: end to end (published here -> completion record read here)", r.end_to_end))
        print(row(f"{k}: broker round trip (produce acks=all -> kafka-python consumer), probe", r.probe))
    if base is not None:
        print(f"\n{len(main.stores)} stores vs 1 store: p50 {ratio(main.seconds, base.seconds, 0.5)}, "
              f"p99 {ratio(main.seconds, base.seconds, 0.99)} (seconds_to_complete)")
    if main.probe:
        print(f"{len(main.stores)} stores, erasure p50 / broker round trip p50: "
              f"{ratio(main.seconds, main.probe, 0.5)} (the path is 3 hops: request -> worker -> agents -> worker)")
    for r in results:
        print(f"\n### {len(r.stores)} store(s): {', '.join(r.stores)}\n")
        print(f"* {r.requests:,} erase requests filed at {r.filing_rate:.1f}/s (target {r.rate:g}/s); "
              f"traffic {r.traffic_sent:,} events at {r.traffic_rate:,.0f}/s achieved"
              f"{f', {r.traffic_failed} failed' if r.traffic_failed else ''}; measured window {r.wall:.0f} s")
        print("* where the time goes (seconds, from the same requests):\n")
        print("| stage | n | p50 | p90 | p99 | max | mean |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, values in r.stages.items():
            print(row(label, values))
        for store, values in r.per_store.items():
            print(row(f"request -> {store} acked both families", values))
        print("\n* over time: the requests in filing order, in fifths (p50 seconds; CPU in cores, 2 in all):\n")
        print("| filed (s after the first) | n | seconds_to_complete | p99 | request -> worker | -> last ack | "
              "last ack -> completion | broker round trip | CPU worker | agents | sinks | broker | machine |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for f in r.fifths:
            cpu = f.cpu

            def cores(prefix: str, cpu: dict[str, float] = cpu) -> str:
                used = [v for role, v in cpu.items() if role.startswith(prefix)]
                return f"{sum(used):.2f}" if used else "-"

            def p50(values: list[float]) -> str:
                return f"{percentile(values, 0.5):.2f}" if values else "-"

            print(f"| {f.began:.1f}-{f.ended:.1f} | {len(f.seconds)} | {p50(f.seconds)} | "
                  f"{percentile(f.seconds, 0.99):.2f} | {p50(f.intake)} | {p50(f.acks)} | {p50(f.completion)} | "
                  f"{p50(f.probe)} | {cores('worker')} | {cores('agent-')} | {cores('sink-')} | {cores('broker')} | "
                  f"{cores('machine')} |")
        print()
        print(f"* acks per second each agent sustained (first to last ack of the measured requests; offered "
              f"{len(FAMILIES) * r.filing_rate:.0f}/s = {len(FAMILIES)} commands per request): "
              + ", ".join(f"{store} {rate:.1f}/s" for store, rate in r.agent_rates.items()))
        statuses = ", ".join(f"{store} {status} {c:,}" for (store, status), c in sorted(r.ack_statuses.items()))
        print(f"* acks read: {statuses}; retries (no ack within ack_timeout): {r.retries}")
        count, total, buckets = r.histogram
        if count:
            print(f"* worker histogram lethe_erasure_completion_seconds (incl. {WARMUP} warm-up): count {count}, "
                  f"mean {total / count:.2f} s, p50 {bucket_of(buckets, count, 0.5)}, "
                  f"p99 {bucket_of(buckets, count, 0.99)}")
        print(f"* probe: {len(r.probe)} round trips, {r.probe_lost} not read back within 10 s")
        print("* CPU during the measured window (100% = one core): " + ", ".join(
            f"{role} {100 * share:.0f}%" for role, share in r.cpu.items()))
        if r.log_warnings:
            print(f"* warnings in the logs: {r.log_warnings}")
        print("* rows of the erased customers, before -> after, per database (orders, logs); "
              "all rows (orders, logs) after:")
        for store in r.stores:
            b, a = r.rows_before[store], r.rows_after[store]
            verdict = "ok" if a[0] == a[1] == 0 and b[0] + b[1] > 0 else "NOT ERASED"
            print(f"    {store}: orders {b[0]:,} -> {a[0]:,}, logs {b[1]:,} -> {a[1]:,}  [{verdict}]; "
                  f"all rows {a[2]:,} orders, {a[3]:,} logs (before: {b[2]:,}, {b[3]:,})")
    broken = [s for r in results for s in r.stores if r.rows_after[s][:2] != (0, 0)]
    verdict = "FAILED on " + ", ".join(broken) if broken else "every database holds no row of any erased customer"
    print(f"\nErasure check: {verdict}")
    print(f"\nCommand: {command}")


# --- main -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="erase requests, three stores (default 1000)")
    parser.add_argument("--rate", type=float, default=20.0, help="erase requests per second (default 20)")
    parser.add_argument("--traffic-rate", type=float, default=500.0, help="orders + logs per second (default 500)")
    parser.add_argument("--subjects", type=int, default=5000, help="customers pre-loaded (default 5000)")
    parser.add_argument("--stores", type=int, default=3, help="store agents in the main phase (default 3)")
    parser.add_argument("--baseline-requests", type=int, default=200,
                        help="erase requests of the one-store baseline phase (default 200; 0 skips it)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for completions after the last request was due (default 600)")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and databases in this directory")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rate <= 0 or args.traffic_rate <= 0 or args.stores < 1:
        parser.error("--requests, --rate, --traffic-rate and --stores must be positive")
    if args.subjects < max(args.requests, args.baseline_requests) + 100:
        parser.error("--subjects must exceed the requests by at least 100 (the others carry the traffic)")
    command = ".venv/bin/python bench/erasure.py " + " ".join(sys.argv[1:] if argv is None else argv)
    run_id = f"{os.getpid()}-{int(time.time()) % 100_000}"
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-erasure-"))
    results = []
    with EmbeddedBroker() as broker:
        progress(f"embedded broker on {broker.bootstrap}; files in {workdir} (kept if the run fails)")
        phases = [(args.requests, [f"db-{i}" for i in range(1, args.stores + 1)])]
        if args.baseline_requests:
            phases.append((args.baseline_requests, ["db-1"]))
        for n, stores in phases:
            results.append(run_phase(broker, run_id, stores, n, args, workdir))
    if args.keep is None:
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, command.strip(), args.traffic_rate)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
