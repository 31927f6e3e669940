"""Throughput of Lethe's worker against the Python pass-through limits, on the embedded broker.

    .venv/bin/python bench/throughput.py [--events N] [--runs K] [--profile]

One embedded broker for the whole run; every measurement gets its own topics (4 partitions, a
distinct prefix) and its own consumer group, and its input is loaded before the consumer starts.
Measured paths:

  aiokafka    AIOKafkaConsumer.getmany -> AIOKafkaProducer.send, raw bytes, in this process
  confluent   confluent-kafka Consumer.consume(2000) -> Producer.produce (Lethe's producer settings), each
              batch flushed before the next, in this process
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
import hashlib
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _bench_kit import PARTITIONS, BenchError, Sample, build_workload, delete_topics, progress
from _throughput_paths import measure_aiokafka, measure_confluent, measure_faust, measure_lethe, measure_processors

from streams.broker import EmbeddedBroker
from streams.settings import REPO_ROOT

TARGET = 20_000.0
PATHS = ("aiokafka", "confluent", "faust-app", "faust", "lethe", "lethe2", "processors")
LABELS = {
    "aiokafka": "aiokafka pass-through (getmany -> send)",
    "confluent": "confluent-kafka pass-through (consume -> produce, librdkafka)",
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
                elif path == "confluent":
                    sample = measure_confluent(broker.bootstrap, workload, tag, broker_pid)
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
