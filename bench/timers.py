"""Scale of the retention timers: the index alone, and the durable store on the embedded broker.

    .venv/bin/python bench/timers.py [--timers 1000000] [--index memory|rocksdb|both]
    .venv/bin/python bench/timers.py --durable [--timers 1000000] [--index memory|rocksdb|both]

Index only (no Kafka): ``processors/timers.py`` ``TimerIndex`` (heap + dict, ``--index memory``,
the default) or ``streams/timerdb.py`` ``RocksTimerIndex`` (``--index rocksdb``, in a temp dir),
filled with what ``TimerStore`` puts there (id ``logs/evt-…``, payload ``Timer(...).encode()``).
Prints memory per pending timer (tracemalloc and process RSS growth; for RocksDB, whose memory is
C++ that tracemalloc does not see, RSS growth and the size of its directory), the scheduling rate,
the cost of one tick as a function of the timers due and of the timers pending (it should follow
the first, not the second), the firing rate when many expire at once (in one ``pop_due`` and in
ticks of ``FIRE_LIMIT``), and firing lateness p50/p99 of a real-time 100 ms tick loop.

Durable (``--durable``): starts the embedded broker, creates the topics (4 partitions, a fresh
prefix per index kind) and drives the real ``TimerStore`` + ``HoldStore`` + ``Retention`` in
process, as the worker does: (a) schedules N log events' deadlines through ``Retention.schedule``
in batches of 2,000 with ``TimerStore.flush`` (the changelog write) after each; (b) restores the 4
partitions into a fresh ``TimerStore``; (c) moves ``Retention``'s clock to the moment a share of
them (``--due-share``) is due at once and runs ``tick()`` until they have all fired (each fire:
command + audit record published, then a tombstone in the changelog), with lateness from deadline
to completion of the tick that fired it; (d) a real-time tick loop (the worker's: tick, then sleep
0.1 s unless the tick was full) with ``--steady`` timers due over 10 s. Ratios are against the
in-memory index alone measured in the same run. Progress goes to stderr, results to stdout.

A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _proc import cpu_seconds, release_memory, rss_bytes

from processors.retention.timers import Timer
from processors.time import iso
from processors.timers import TimerIndex

BASE = 1.9e9          # deadlines in 2030, epoch seconds, like real ones
HORIZON = 1e9         # ... spread over ~30 years in the index-only runs
SUBJECTS = 100_000
_dirs = itertools.count()


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)








def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(int(len(sorted_values) * share), len(sorted_values) - 1)]


def timer_for(i: int, due: float) -> tuple[str, bytes]:
    """What TimerStore keeps for log event i: its timer id and the encoded Timer."""
    key = f"evt-{i:09d}"
    timer_id = f"logs/{key}"
    return timer_id, Timer(timer_id, "logs", "delete", "logs", f"cust-{i % SUBJECTS:06d}", key, (), due).encode()


# --- index only -------------------------------------------------------------------------------

class Indexes:
    """Makes indexes of one kind; RocksDB ones in a temp dir, removed at the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.root = Path(tempfile.mkdtemp(prefix="bench-timers-")) if kind == "rocksdb" else None

    def new(self) -> Any:
        if self.root is None:
            return TimerIndex()
        from streams.state.timerdb import RocksTimerIndex
        return RocksTimerIndex(self.root / f"index-{next(_dirs)}")

    def close(self, index: Any) -> None:
        close = getattr(index, "close", None)
        if close is not None:
            close()

    def cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def build(index: Any, n: int, rng: random.Random, horizon: float = HORIZON, first: int = 0,
          chunk: int = 20_000, say: str = "", trim: bool = False) -> float:
    """Schedule n timers due in [BASE, BASE + horizon); return the seconds spent in ``schedule``.

    Ids and payloads are made a chunk at a time outside the timed part (they stay in the index).
    The payload is ``Timer.encode()`` as ``TimerStore.schedule`` stores it; ``trim`` copies it to
    a bytes object of its own size first (orjson >= 3.12 returns bytes whose allocation is at
    least 4 KiB and never shrinks them; a restored timer's payload is aiokafka's value bytes).
    """
    spent = 0.0
    report = max(1_000_000, n // 10)
    for lo in range(first, first + n, chunk):
        timers = [(*timer_for(i, due), due) for i in range(lo, min(first + n, lo + chunk))
                  for due in (BASE + rng.random() * horizon,)]
        if trim:
            timers = [(timer_id, bytes(memoryview(raw)), due) for timer_id, raw, due in timers]
        schedule = index.schedule
        started = time.perf_counter()
        for timer_id, raw, due in timers:
            schedule(timer_id, due, raw)
        spent += time.perf_counter() - started
        if say and (lo - first + chunk) % report < chunk and lo - first + chunk < n:
            progress(f"  {say}: {lo - first + chunk:,} of {n:,} ({(lo - first + chunk) / spent:,.0f}/s)")
    return spent


def memory_and_scheduling(indexes: Indexes, n: int) -> Any:
    """Memory per pending timer and the scheduling rate; returns the index (n pending) for more."""
    gc.collect()
    rss_before = rss_bytes()
    index = indexes.new()
    seconds = build(index, n, random.Random(1), say="scheduling")
    gc.collect()
    rss_after = rss_bytes()
    print(f"pending timers                {len(index):>12,}   ({indexes.kind} index)")
    print(f"memory per pending timer      {(rss_after - rss_before) / n:>12,.0f} bytes (process RSS growth)")
    if indexes.kind == "rocksdb":
        db = index._db
        disk = dir_bytes(index.path)
        mem = {p: db.property_int_value(f"rocksdb.{p}") or 0
               for p in ("cur-size-all-mem-tables", "estimate-table-readers-mem", "block-cache-usage")}
        print(f"disk per pending timer        {disk / n:>12,.0f} bytes (RocksDB directory, {disk / 2**20:,.0f} MiB: "
              "SST files + write-ahead log)")
        print(f"  RocksDB memory now: memtables {mem['cur-size-all-mem-tables'] / 2**20:,.0f} MiB, "
              f"table readers {mem['estimate-table-readers-mem'] / 2**20:,.0f} MiB, "
              f"block cache {mem['block-cache-usage'] / 2**20:,.0f} MiB")
    print(f"scheduling rate, no tracing   {n / seconds:>12,.0f} timers/s (index.schedule only)")
    return index


def traced_memory(indexes: Indexes, n: int, trim: bool = False) -> None:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = indexes.new()
    seconds = build(index, n, random.Random(1), trim=trim, say="scheduling under tracemalloc")
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    if trim:
        print(f"  ... payload copied to its size {(after - before) / n:>8,.0f} bytes (tracemalloc; "
              "what a restored timer costs: aiokafka's value bytes)")
    else:
        print(f"memory per pending timer      {(after - before) / n:>12,.0f} bytes (tracemalloc: id, payload, "
              "heap entry)")
        print(f"scheduling rate, tracemalloc  {n / seconds:>12,.0f} timers/s (tracing slows it)")
    indexes.close(index)


def tick_cost(index: Any, due: int, repeats: int = 5) -> float:
    """Seconds for one pop_due that fires ``due`` timers (added before BASE) out of the index."""
    times = []
    for r in range(repeats):
        for j in range(due):
            timer_id, raw = timer_for(900_000_000 + r * 100_000 + j, BASE - 1 - j * 1e-3)
            index.schedule(timer_id, BASE - 1 - j * 1e-3, raw)
        started = time.perf_counter()
        fired = index.pop_due(BASE - 0.5)
        times.append(time.perf_counter() - started)
        assert len(fired) == due
    return statistics.median(times)


def print_tick_costs(index: Any, pending: int) -> None:
    for due in (1, 100, 10_000):
        seconds = tick_cost(index, due)
        print(f"  {pending:>10,} {due:>8,} {seconds * 1000:>9.3f} {seconds / due * 1e6:>15.2f}")


def firing(index: Any, n: int, limit: int) -> None:
    """All timers due in the first 10% of the horizon at once; then the next 10% in ticks of ``limit``."""
    idle_before = idle_tick(index, BASE - 1.0)
    started = time.perf_counter()
    fired = index.pop_due(BASE + 0.1 * HORIZON)
    elapsed = time.perf_counter() - started
    print(f"\nfiring rate, {len(fired):,} of {n:,} due at once: {len(fired) / elapsed:,.0f} timers/s (one pop_due)")
    ticks: list[float] = []
    count = 0
    while True:
        started = time.perf_counter()
        got = len(index.pop_due(BASE + 0.2 * HORIZON, limit))
        ticks.append(time.perf_counter() - started)
        count += got
        if got < limit:
            break
    print(f"firing rate, next {count:,} in ticks of {limit:,}: {count / sum(ticks):,.0f} timers/s; "
          f"ms per full tick: first {ticks[0] * 1000:.1f}, median {statistics.median(ticks) * 1000:.1f}, "
          f"last full {ticks[-2 if len(ticks) > 1 else -1] * 1000:.1f}")
    idle_after = idle_tick(index, BASE + 0.2 * HORIZON)
    print(f"idle tick (nothing due): {idle_before * 1000:.3f} ms before firing, "
          f"{idle_after * 1000:.3f} ms after firing {len(fired) + count:,}")


def idle_tick(index: Any, now: float, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        assert not index.pop_due(now)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def lateness(indexes: Indexes, n: int, window: float, tick: float) -> tuple[float, float]:
    """Timers due over ``window`` seconds from 0.5 s after they are all scheduled; a tick every ``tick``."""
    rng = random.Random(4)
    index = indexes.new()
    for i in range(n):
        due = BASE + rng.random() * window
        timer_id, raw = timer_for(i, due)
        index.schedule(timer_id, due, raw)
    start = time.monotonic() + 0.5   # the clock reads BASE then, however long scheduling took
    late: list[float] = []
    while len(index):
        time.sleep(tick)
        now = BASE + time.monotonic() - start
        late.extend(now - due for _, due, _ in index.pop_due(now))
    indexes.close(index)
    late.sort()
    p50, p99 = percentile(late, 0.5), percentile(late, 0.99)
    print(f"firing lateness ({n:,} timers due over {window:.0f}s, tick {tick * 1000:.0f} ms): "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms")
    return p50, p99


def index_only(kind: str, n: int) -> None:
    from streams.retention import FIRE_LIMIT

    indexes = Indexes(kind)
    try:
        progress(f"[{kind}] scheduling {n:,} timers")
        index = memory_and_scheduling(indexes, n)
        progress(f"[{kind}] tick cost by due and by pending")
        print("\ncost of one tick (pop_due), median of 5:")
        print(f"  {'pending':>10} {'due':>8} {'ms/tick':>9} {'us/timer fired':>15}")
        small = indexes.new()
        build(small, n // 10, random.Random(2), first=n)
        print_tick_costs(small, n // 10)
        indexes.close(small)
        print_tick_costs(index, n)
        progress(f"[{kind}] firing many at once")
        firing(index, n, FIRE_LIMIT)
        indexes.close(index)
        del index, small
        if kind == "memory":
            progress(f"[{kind}] scheduling {n:,} timers under tracemalloc")
            print()
            traced_memory(indexes, n)
            progress(f"[{kind}] again with payloads copied to their size")
            traced_memory(indexes, n, trim=True)
        progress(f"[{kind}] lateness of a 100 ms tick loop")
        print()
        lateness(indexes, 200_000, 5.0, 0.1)
    finally:
        indexes.cleanup()


# --- durable: TimerStore + Retention on the embedded broker -------------------------------------

RETENTION_SECONDS = 90 * 86_400   # deploy/policy.toml: [retention."logs"] after = "90d", delete
BATCH = 2_000


@dataclass
class Durable:
    kind: str
    n: int
    scheduled: int = 0
    schedule_s: float = 0.0      # Retention.schedule: plan, index, stage
    flush_s: float = 0.0         # TimerStore.flush: the changelog write, acks=all
    schedule_wall_s: float = 0.0
    schedule_cpu: tuple[float, float] = (0.0, 0.0)   # (this process, broker) CPU seconds
    restore_s: float = 0.0
    restored: int = 0
    due: int = 0
    fired: int = 0
    fire_s: float = 0.0
    ticks: list[float] = field(default_factory=list)
    fire_cpu: tuple[float, float] = (0.0, 0.0)
    late_issue: list[float] = field(default_factory=list)      # tick start - deadline (the metric)
    late_done: list[float] = field(default_factory=list)       # end of the tick that fired it - deadline
    histogram: tuple[float, float] = (0.0, 0.0)                # p50/p99 bucket bounds of the metric
    pending_after: int = 0
    rss_scheduled: float = 0.0   # process RSS growth per pending timer, scheduled / restored
    rss_restored: float = 0.0
    idle_before: float = 0.0     # Retention.tick() with nothing due, before / after the firing
    idle_after: float = 0.0
    steady: int = 0
    steady_done: list[float] = field(default_factory=list)


class LatenessTap:
    """Stands in for metrics.firing_lateness: forwards to the histogram and keeps every value."""

    class _Child:
        def __init__(self, child: Any, samples: list[float]) -> None:
            self.child, self.samples = child, samples

        def observe(self, value: float) -> None:
            self.child.observe(value)
            self.samples.append(value)

    def __init__(self, histogram: Any) -> None:
        self.histogram = histogram
        self.samples: list[float] = []

    def labels(self, *labels: str) -> LatenessTap._Child:
        return LatenessTap._Child(self.histogram.labels(*labels), self.samples)


def histogram_quantiles(histogram: Any, shares: tuple[float, ...]) -> tuple[float, ...]:
    """Upper bounds of the buckets holding the given quantiles (summed over labels)."""
    buckets: dict[float, float] = {}
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    bounds = sorted(buckets)
    total = buckets.get(float("inf"), 0.0)
    return tuple(next((b for b in bounds if buckets[b] >= share * total), float("inf")) for share in shares)


def log_events(ids: range, due_of: Callable[[int], float], partitions: int) -> list[tuple[int, dict[str, Any]]]:
    """(partition, record) pairs as the worker hands them to Retention.schedule (partition by subject)."""
    return [(i % SUBJECTS % partitions,
             {"event_id": f"evt-{i:09d}", "customer_id": f"cust-{i % SUBJECTS:06d}",
              "occurred_at": iso(due_of(i) - RETENTION_SECONDS), "event_type": "page_view",
              "url": f"https://shop.example/p/{i % 5000}"})
            for i in ids]


def deadlines(n: int, share: float, moment: float) -> list[float]:
    """A share of the deadlines all at one instant, the rest spread over the year after the next day."""
    rng = random.Random(7)
    return [moment if rng.random() < share else moment + 86_400 + rng.random() * 365 * 86_400 for _ in range(n)]


async def idle_ticks(retention: Any, repeats: int = 5) -> float:
    """Median seconds of a Retention.tick() that finds nothing due."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fired = await retention.tick()
        times.append(time.perf_counter() - started)
        assert fired == 0
    return statistics.median(times)


@contextmanager
def cpu_window(broker_pid: int | None) -> Iterator[list[float]]:
    out: list[float] = []
    me, broker = cpu_seconds(), cpu_seconds(broker_pid) if broker_pid else 0.0
    yield out
    out += [cpu_seconds() - me, (cpu_seconds(broker_pid) - broker) if broker_pid else 0.0]


async def durable_run(kind: str, n: int, share: float, steady: int, bootstrap: str, broker_pid: int | None,
                      settings: Any) -> Durable:
    from aiokafka import AIOKafkaProducer

    from processors.inputs import Inputs
    from processors.policy import load_policy
    from processors.retention.timers import RetentionPlan
    from processors.schemas import SchemaCatalog
    from streams.metrics import Metrics
    from streams.retention import FIRE_LIMIT, TICK_SECONDS, Retention
    from streams.state.holds import HoldStore
    from streams.state.timers import TimerStore, index_factory, timers_topic

    result = Durable(kind, n)
    partitions = range(settings.partitions)
    plan = RetentionPlan(load_policy(settings.policy_path).retention)
    assert [r.after_seconds for r in plan.by_source["logs.v1"]] == [RETENTION_SECONDS], "policy's logs rule changed"
    new_index = index_factory(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="lethe-output", acks="all", linger_ms=5,
                                max_batch_size=256 * 1024, request_timeout_ms=30_000)
    await producer.start()
    moment = float(int(time.time()) + 86_400)   # a day ahead: nothing fires before the clock jumps
    due_at = deadlines(n, share, moment)
    result.due = sum(1 for d in due_at if d == moment)
    try:
        # (a) schedule ------------------------------------------------------------------------
        metrics = Metrics()
        timers = TimerStore(bootstrap, timers_topic(settings), metrics, new_index)
        holds = HoldStore(bootstrap, settings.topics.name("legal-holds.v1"), metrics,
                          inputs=Inputs(SchemaCatalog.load(settings.schemas_dir)))
        await timers.start()
        await holds.restore(set(partitions))
        await timers.restore(set(partitions))
        retention = Retention(settings, plan, timers, holds, lambda: producer, metrics)
        release_memory()
        rss = rss_bytes()
        progress(f"[durable {kind}] scheduling {n:,} timers in batches of {BATCH:,}")
        began = time.perf_counter()
        with cpu_window(broker_pid) as cpu:
            for lo in range(0, n, BATCH):
                records = log_events(range(lo, min(n, lo + BATCH)), due_at.__getitem__, settings.partitions)
                t0 = time.perf_counter()
                result.scheduled += retention.schedule("logs", records)
                t1 = time.perf_counter()
                await timers.flush()
                t2 = time.perf_counter()
                result.schedule_s += t1 - t0
                result.flush_s += t2 - t1
                if (lo + BATCH) % 200_000 == 0 and lo + BATCH < n:
                    rate = (lo + BATCH) / (result.schedule_s + result.flush_s)
                    progress(f"  {lo + BATCH:,} of {n:,} ({rate:,.0f}/s)")
        result.schedule_wall_s = time.perf_counter() - began
        result.schedule_cpu = (cpu[0], cpu[1])
        gc.collect()
        result.rss_scheduled = (rss_bytes() - rss) / n
        await timers.stop()   # drops (and for RocksDB deletes) its indexes
        del timers, retention, records
        release_memory()
        rss = rss_bytes()

        # (b) restore -------------------------------------------------------------------------
        progress(f"[durable {kind}] restoring {settings.partitions} partitions into a fresh TimerStore")
        metrics = Metrics()
        tap = LatenessTap(metrics.firing_lateness)
        metrics.firing_lateness = tap  # type: ignore[assignment]   # observe() is all Retention calls
        timers = TimerStore(bootstrap, timers_topic(settings), metrics, new_index)
        holds = HoldStore(bootstrap, settings.topics.name("legal-holds.v1"), metrics,
                          inputs=Inputs(SchemaCatalog.load(settings.schemas_dir)))
        await timers.start()
        await holds.restore(set(partitions))
        started = time.perf_counter()
        await timers.restore(set(partitions))
        result.restore_s = time.perf_counter() - started
        result.restored = timers.pending_count()
        gc.collect()
        result.rss_restored = (rss_bytes() - rss) / n

        # (c) many due at once ------------------------------------------------------------------
        fixed: list[float | None] = [moment - 60.0]   # Retention's clock: a minute before the instant,
        shift = 0.0                                   # then running, from the instant on

        def clock() -> float:
            return fixed[0] if fixed[0] is not None else time.time() + shift

        retention = Retention(settings, plan, timers, holds, lambda: producer, metrics, clock=clock)
        result.idle_before = await idle_ticks(retention)
        fixed[0], shift = None, moment - time.time()
        progress(f"[durable {kind}] firing {result.due:,} timers due at once")
        zero = 0
        began = time.perf_counter()
        with cpu_window(broker_pid) as cpu:
            while result.fired < result.due and zero < 50:
                seen = len(tap.samples)
                t0 = time.perf_counter()
                fired = await retention.tick()
                elapsed = time.perf_counter() - t0
                result.fired += fired
                zero = 0 if fired else zero + 1
                if fired:
                    result.ticks.append(elapsed)
                    result.late_done += [late + elapsed for late in tap.samples[seen:]]
                if len(result.ticks) % 20 == 0 and fired:
                    rate = result.fired / (time.perf_counter() - began)
                    progress(f"  {result.fired:,} of {result.due:,} ({rate:,.0f}/s, last tick {elapsed * 1000:.0f} ms)")
        result.fire_s = time.perf_counter() - began
        result.fire_cpu = (cpu[0], cpu[1])
        result.late_issue = sorted(tap.samples)
        result.late_done.sort()
        p50, p99 = histogram_quantiles(tap.histogram, (0.5, 0.99))
        result.histogram = (p50, p99)
        result.pending_after = timers.pending_count()
        fixed[0] = moment + 1.0   # after the instant, before the rest (a day later)
        result.idle_after = await idle_ticks(retention)
        fixed[0] = None

        # (d) real time: the worker's loop, timers due over 10 s ------------------------------------
        if steady:
            progress(f"[durable {kind}] real-time tick loop, {steady:,} timers due over 10 s")
            start = clock() + 2.0
            srng = random.Random(8)
            dues = {n + j: start + srng.random() * 10.0 for j in range(steady)}
            for lo in range(n, n + steady, BATCH):
                retention.schedule("logs", log_events(range(lo, min(n + steady, lo + BATCH)), dues.__getitem__,
                                                      settings.partitions))
                await timers.flush()
            before, fired_total = len(tap.samples), 0
            deadline = time.monotonic() + 60.0
            while fired_total < steady and time.monotonic() < deadline:
                seen = len(tap.samples)
                t0 = time.perf_counter()
                fired = await retention.tick()
                elapsed = time.perf_counter() - t0
                fired_total += fired
                result.steady_done += [late + elapsed for late in tap.samples[seen:]]
                if fired < FIRE_LIMIT:
                    await asyncio.sleep(TICK_SECONDS)
            result.steady = len(tap.samples) - before
            result.steady_done.sort()
        await timers.stop()
    finally:
        await producer.stop()
    return result


def durable(kinds: list[str], n: int, share: float, steady: int) -> None:
    from streams.broker import EmbeddedBroker
    from streams.retention import FIRE_LIMIT
    from streams.settings import Settings
    from streams.topics import ensure_topics

    moment = BASE
    deadlines_ = deadlines(n, share, moment)
    progress(f"index-only baseline: memory TimerIndex, {n:,} timers")
    base = TimerIndex()
    spent = 0.0
    for lo in range(0, n, BATCH):
        timers = [(*timer_for(i, due), due) for i, due in enumerate(deadlines_[lo:lo + BATCH], lo)]
        started = time.perf_counter()
        for timer_id, raw, due in timers:
            base.schedule(timer_id, due, raw)
        spent += time.perf_counter() - started
    base_schedule = n / spent
    started = time.perf_counter()   # the share due at once, popped in ticks of FIRE_LIMIT as Retention does
    popped = 0
    while got := len(base.pop_due(moment, FIRE_LIMIT)):
        popped += got
    base_fire = popped / (time.perf_counter() - started)
    del base
    gc.collect()
    progress("index-only baseline: lateness of a 100 ms tick loop")
    print(f"index-only baseline (memory TimerIndex, {n:,} timers): scheduling {base_schedule:,.0f}/s, "
          f"firing {base_fire:,.0f}/s in ticks of {FIRE_LIMIT:,}")
    base_late = lateness(Indexes("memory"), steady or 20_000, 10.0, 0.1)

    results: list[Durable] = []
    run_id = f"{os.getpid()}-{int(time.time()) % 100_000}"
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-timers-durable-") as tmp:
        broker_pid = broker._process.pid if broker._process else None
        progress(f"embedded broker on {broker.bootstrap} (pid {broker_pid})")
        for kind in kinds:
            prefix = f"bench-{run_id}-{kind}."
            settings = Settings.from_env({
                "LETHE_TOPIC_PREFIX": prefix, "LETHE_APP_ID": f"{prefix}lethe", "LETHE_PARTITIONS": "4",
                "LETHE_DATA_DIR": str(Path(tmp) / kind), "LETHE_PSEUDONYM_KEY": secrets.token_hex(32),
                "LETHE_TABLE_STORE": "rocksdb://" if kind == "rocksdb" else "memory://"})
            ensure_topics(settings, broker.bootstrap)
            result = asyncio.run(durable_run(kind, n, share, steady, broker.bootstrap, broker_pid, settings))
            results.append(result)
            progress(f"[durable {kind}] done: scheduled {result.scheduled:,}, restored {result.restored:,}, "
                     f"fired {result.fired:,} of {result.due:,}, {result.pending_after:,} pending after")
            if result.restored != n or result.fired != result.due or result.pending_after != n - result.due:
                print(f"WARNING [{kind}]: restored {result.restored:,} of {n:,}, fired {result.fired:,} of "
                      f"{result.due:,}, pending after {result.pending_after:,}: figures are not comparable")
    report_durable(results, n, share, steady, base_schedule, base_fire, base_late)


def report_durable(results: list[Durable], n: int, share: float, steady: int, base_schedule: float,
                   base_fire: float, base_late: tuple[float, float]) -> None:
    from streams.retention import FIRE_LIMIT

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"

    rows: list[tuple[str, list[str], str]] = []

    def row(name: str, values: list[str], baseline: str = "") -> None:
        rows.append((name, values, baseline))

    def ratio(value: float, base: float) -> str:
        return f"{value:,.0f} ({value / base:.2f}x)"

    row("scheduling rate, timers/s (incl. changelog)",
        [ratio(r.n / (r.schedule_s + r.flush_s), base_schedule) for r in results], f"{base_schedule:,.0f}")
    row("  Retention.schedule (plan+index+stage), us/timer",
        [f"{r.schedule_s / r.n * 1e6:.1f}" for r in results], f"{1e6 / base_schedule:.1f} (index)")
    row("  TimerStore.flush (changelog, acks=all), us/timer", [f"{r.flush_s / r.n * 1e6:.1f}" for r in results])
    row("  CPU s: this process / broker (wall s)",
        [f"{r.schedule_cpu[0]:.0f} / {r.schedule_cpu[1]:.0f} ({r.schedule_wall_s:.0f})" for r in results])
    row("process RSS growth per pending timer, bytes",
        [f"{r.rss_scheduled:,.0f}" for r in results])
    row("restore, 4 partitions: s (timers/s)",
        [f"{r.restore_s:.1f} ({r.restored / r.restore_s:,.0f})" for r in results])
    row("  process RSS growth per restored timer, bytes", [f"{r.rss_restored:,.0f}" for r in results])
    row(f"firing rate, {results[0].due:,} due at once, timers/s",
        [ratio(r.fired / r.fire_s, base_fire) for r in results], f"{base_fire:,.0f}")
    row(f"  ticks of <= {FIRE_LIMIT:,}: first / median / last, ms",
        [f"{r.ticks[0] * 1000:.0f} / {statistics.median(r.ticks) * 1000:.0f} / {r.ticks[-1] * 1000:.0f}"
         if r.ticks else "-" for r in results])
    row("  CPU s: this process / broker (wall s)",
        [f"{r.fire_cpu[0]:.0f} / {r.fire_cpu[1]:.0f} ({r.fire_s:.0f})" for r in results])
    row("  idle tick (nothing due) before / after the firing, ms",
        [f"{r.idle_before * 1000:.2f} / {r.idle_after * 1000:.2f}" for r in results])
    row("  lateness to publish+tombstone p50 / p99",
        [f"{ms(percentile(r.late_done, 0.5))} / {ms(percentile(r.late_done, 0.99))}" for r in results])
    row("  lateness metric (tick start) p50 / p99",
        [f"{ms(percentile(r.late_issue, 0.5))} / {ms(percentile(r.late_issue, 0.99))}" for r in results])
    row("  lethe_retention_firing_lateness_seconds p50 / p99 bucket",
        [f"<= {r.histogram[0]:g} s / <= {r.histogram[1]:g} s" for r in results])
    if steady:
        row(f"real-time loop, {steady:,} due over 10 s: lateness p50 / p99",
            [f"{ms(percentile(r.steady_done, 0.5))} / {ms(percentile(r.steady_done, 0.99))}"
             + ("" if r.steady == steady else f" ({r.steady:,} fired)") for r in results],
            f"{ms(base_late[0])} / {ms(base_late[1])}")
    print(f"\ndurable retention timers: {n:,} scheduled (log events, rule logs = 90d delete), 4 partitions, "
          f"batches of {BATCH:,}; {results[0].due:,} ({share:.0%}) due at one instant")
    names = [f"TimerStore, {r.kind} index" for r in results] + ["index only (memory)"]
    width = max(len(name) for name, _, _ in rows)
    cols = [max(len(h), *(len(v[i]) for _, v, _ in rows)) for i, h in enumerate(names[:-1])]
    print(f"{'':<{width}}  " + "  ".join(f"{h:>{c}}" for h, c in zip(names, cols, strict=False))
          + f"  {names[-1]}")
    for name, values, baseline in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{v:>{c}}" for v, c in zip(values, cols, strict=True))
              + f"  {baseline}")
    print("(x) = ratio to the index-only rate measured in this run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=1_000_000, help="pending timers (default 1,000,000)")
    parser.add_argument("--index", choices=("memory", "rocksdb", "both"), default="memory",
                        help="TimerIndex (memory, default), RocksTimerIndex in a temp dir (rocksdb), or both")
    parser.add_argument("--durable", action="store_true",
                        help="TimerStore + Retention on the embedded broker instead of the index alone")
    parser.add_argument("--due-share", type=float, default=0.5,
                        help="--durable: share of the timers due at one instant (default 0.5)")
    parser.add_argument("--steady", type=int, default=20_000,
                        help="--durable: timers due over 10 s for the real-time tick loop (default 20,000; 0: skip)")
    args = parser.parse_args()
    if args.timers < 10 or not 0 < args.due_share <= 1 or args.steady < 0:
        parser.error("--timers must be >= 10, --due-share in (0, 1], --steady >= 0")
    kinds = ["memory", "rocksdb"] if args.index == "both" else [args.index]
    if args.durable:
        durable(kinds, args.timers, args.due_share, args.steady)
        return 0
    for number, kind in enumerate(kinds):
        if number:
            print()
        index_only(kind, args.timers)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
