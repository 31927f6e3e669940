"""What a rebalance costs a worker that keeps its partitions: a full restore against a catch-up.

    .venv/bin/python bench/catch_up.py [--subjects 400000] [--since 10000] [--runs 3]

Starts the embedded broker, creates the topics (4 partitions) and writes ``--subjects`` subject
secrets to the secrets changelog through ``SecretStore`` (batches of 10,000, flushed as a worker
flushes). Then, in process, as streams/ingest.py drives it on an eager rebalance that leaves the
worker partitions 0 and 1:

* **full**: a fresh ``SecretStore`` restores partitions 0 and 1 from the beginning (what every
  rebalance cost before issue 14, and what a worker that newly receives them still pays);
* **catch-up, nothing since**: a store that restored all four sets them aside (``set_aside``),
  drops 2 and 3 and restores 0 and 1 again: it reads from the position of its restore;
* **catch-up, ``--since`` writes since**: the same after the store created ``--since`` new
  subjects' secrets (its own writes, read again on catch-up).

Each is measured ``--runs`` times (the catch-ups in turn, each after its own rebalance); prints the
median time, the records read and the ratio to the full restore's median in the same run. A
benchmark, not a test: nothing asserts on time. Progress to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from streams.broker import EmbeddedBroker
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import Restored
from streams.state.secrets import SecretStore, changelog_topic
from streams.topics import ensure_topics

PARTITIONS = 4
BATCH = 10_000
KEPT = {0, 1}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def fill(store: SecretStore, first: int, count: int) -> None:
    for lo in range(first, first + count, BATCH):
        for n in range(lo, min(lo + BATCH, first + count)):
            store.add(n % PARTITIONS, f"subject-{n:09d}", secrets.token_bytes(32))
        await store.flush()


async def timed(store: SecretStore, partitions: set[int]) -> tuple[float, Restored]:
    started = time.perf_counter()
    done = await store.restore(partitions)
    return time.perf_counter() - started, done


async def run(bootstrap: str, topic: str, subjects: int, since: int, runs: int) -> list[tuple[str, float, int]]:
    writer = SecretStore(bootstrap, topic, Metrics())
    await writer.start()
    progress(f"writing {subjects:,} secrets")
    await writer.restore(set(range(PARTITIONS)))
    await fill(writer, 0, subjects)
    await writer.stop()

    times: dict[str, list[float]] = {}
    records: dict[str, int] = {}
    full = "full restore of partitions 0, 1"
    for _ in range(runs):
        fresh = SecretStore(bootstrap, topic, Metrics())   # reads only: not started
        seconds, done = await timed(fresh, KEPT)
        times.setdefault(full, []).append(seconds)
        records[full] = done.full_records

    worker = SecretStore(bootstrap, topic, Metrics())
    await worker.start()
    written = subjects
    try:
        await worker.restore(set(range(PARTITIONS)))
        for _ in range(runs):
            for label, extra in (("catch-up, nothing written since", 0),
                                 (f"catch-up, {since:,} written since", since)):
                if extra:
                    await fill(worker, written, extra)
                    written += extra
                worker.set_aside(set(range(PARTITIONS)))
                worker.forget(set(worker.dormant) - KEPT)
                seconds, done = await timed(worker, KEPT)
                times.setdefault(label, []).append(seconds)
                records[label] = done.catch_up_records
                await worker.restore(set(range(PARTITIONS)) - KEPT)   # back to owning all four
    finally:
        await worker.stop()
    return [(label, statistics.median(spent), records[label]) for label, spent in times.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=400_000)
    parser.add_argument("--since", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-catch-up-") as tmp:
        prefix = f"bench-{os.getpid()}-catchup."
        settings = Settings.from_env({"LETHE_TOPIC_PREFIX": prefix, "LETHE_APP_ID": f"{prefix}lethe",
                                      "LETHE_PARTITIONS": str(PARTITIONS), "LETHE_DATA_DIR": str(Path(tmp)),
                                      "LETHE_PSEUDONYM_KEY": secrets.token_hex(32)})
        ensure_topics(settings, broker.bootstrap)
        rows = asyncio.run(run(broker.bootstrap, changelog_topic(settings), args.subjects, args.since, args.runs))
    full = rows[0][1]
    print(f"{args.subjects:,} subject secrets in {PARTITIONS} partitions; the worker keeps partitions 0 and 1; "
          f"median of {args.runs}")
    print(f"{'restore':<40} {'seconds':>8} {'records read':>13} {'time / full':>12}")
    for label, seconds, records in rows:
        print(f"{label:<40} {seconds:>8.2f} {records:>13,} {seconds / full:>12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
