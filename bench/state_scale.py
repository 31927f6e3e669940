"""Subject state at scale (issue 14): restore time, worker memory and the cost of a lookup on the record
path with the subject secrets in memory (``LETHE_TABLE_STORE=memory://``) and in RocksDB (``rocksdb://``).

    PYTHONPATH=$PWD .venv/bin/python bench/state_scale.py                      # 10,000,000 subjects
    PYTHONPATH=$PWD .venv/bin/python bench/state_scale.py --subjects 200000    # a quick run

One embedded broker; the secrets changelog of one set of ``--partitions`` partitions is filled with
one 32-byte secret per subject (``cust-<n>``, partitioned by CRC32 of the key). Then, for each
store, a fresh worker *process* (so that its RSS is its own) builds the stores as ``lethe run``
does (secrets, consent, requests; consent and requests empty) and measures:

* restore: the time to read the changelog into the store, and its RSS (VmRSS) before and after;
* lookups: ``SecretStore.secret_of`` for subjects drawn uniformly from all N (cold: most miss any
  cache), per second;
* full path: the same events (orders and logs, each for a subject drawn from all N) through the
  pipelines of the default policy with the worker's ``SubjectState`` (decode, secret lookup,
  consent and request gates, anonymize, encode): what a worker does per record between the consumer
  and the producer, so without Kafka I/O, which is the same for both stores.

memory:// is the baseline: ratios are against it, in the same run. A benchmark: it asserts
nothing, and a machine shared with other work gives noisy figures (the load average is printed).
``--hot-path`` alone times ``secret_of`` in memory on a filled store, without a broker, against
whatever ``streams`` is first on PYTHONPATH (to compare two checkouts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from _proc import release_memory, rss_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_BYTES = 32


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)






def subject(n: int) -> str:
    return f"cust-{n}"


def partition_of(key: bytes, partitions: int) -> int:
    return zlib.crc32(key) % partitions


def settings_for(prefix: str, data_dir: Path, partitions: int, store: str) -> Any:
    from streams.settings import Settings
    return Settings.from_env({
        "LETHE_TOPIC_PREFIX": prefix, "LETHE_APP_ID": f"{prefix}lethe", "LETHE_PARTITIONS": str(partitions),
        "LETHE_DATA_DIR": str(data_dir), "LETHE_PSEUDONYM_KEY": "ab" * 32, "LETHE_TABLE_STORE": store})


# -- the changelog -----------------------------------------------------------------------------------
async def fill(bootstrap: str, topic: str, subjects: int, partitions: int) -> float:
    """Write one secret per subject to ``topic``; the seconds it took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-fill", acks="all", linger_ms=20,
                                max_batch_size=1 << 20, request_timeout_ms=120_000)
    await producer.start()
    rng = random.Random(14)
    started = time.perf_counter()
    step = 100_000
    try:
        for lo in range(0, subjects, step):
            futures = []
            for n in range(lo, min(subjects, lo + step)):
                key = subject(n).encode()
                futures.append(await producer.send(topic, rng.randbytes(SECRET_BYTES), key=key,
                                                   partition=partition_of(key, partitions)))
            await asyncio.gather(*futures)
            done = min(subjects, lo + step)
            if done % 1_000_000 == 0 or done == subjects:
                spent = time.perf_counter() - started
                progress(f"  changelog: {done:,} of {subjects:,} ({done / spent:,.0f}/s)")
    finally:
        await producer.stop()
    return time.perf_counter() - started


def events(count: int, subjects: int, partitions: int) -> list[tuple[str, bytes, int]]:
    """(source, value, partition) for ``count`` events, each of a subject drawn uniformly from all."""
    from processors.sample import Traffic

    traffic = Traffic(REPO_ROOT / "schemas" / "examples", subjects=1000, seed=14)
    rng = random.Random(41)
    out: list[tuple[str, bytes, int]] = []
    for source, event in traffic.stream(count):
        if event.get("customer_id"):
            event["customer_id"] = subject(rng.randrange(subjects))
            key = event["customer_id"].encode()
            out.append((source, json.dumps(event).encode(), partition_of(key, partitions)))
        else:   # an anonymous log: no subject, no lookup
            out.append((source, json.dumps(event).encode(), rng.randrange(partitions)))
    return out


# -- one worker (a child process per store) ----------------------------------------------------------
async def worker(args: argparse.Namespace) -> dict[str, Any]:
    from streams.app import build_pipelines
    from streams.metrics import Metrics
    from streams.state.consent import ConsentStore, consent_topic
    from streams.state.maps import maps_of
    from streams.state.requests import RequestStore, requests_topic
    from streams.state.secrets import SecretStore, changelog_topic
    from streams.state.subjects import SubjectState

    settings = settings_for(args.prefix, Path(args.data_dir), args.partitions, args.store)
    policy, pipelines, _ = build_pipelines(settings)
    work = events(args.events, args.subjects, args.partitions)
    rng = random.Random(7)
    probes = [(subject(n), partition_of(subject(n).encode(), args.partitions))
              for n in (rng.randrange(args.subjects) for _ in range(args.lookups))]
    metrics = Metrics()
    maps = maps_of(settings)
    store = SecretStore(args.bootstrap, changelog_topic(settings), metrics, maps=maps)
    consent = ConsentStore(args.bootstrap, consent_topic(settings), metrics, policy.consent, policy.version,
                           {o.topic: o.consent for o in policy.outputs.values()}, maps=maps)
    requests = RequestStore(args.bootstrap, requests_topic(settings), metrics, maps)
    for state in (store, consent, requests):
        state.write = False
    owned = set(range(args.partitions))
    release_memory()
    result: dict[str, Any] = {"store": args.store, "rss_before": rss_bytes()}
    progress(f"[{args.store}] restoring {args.subjects:,} secrets from {args.partitions} partitions")
    started = time.perf_counter()
    cpu = time.process_time()
    await store.restore(owned)
    await consent.restore(owned)
    await requests.restore(owned)
    result["restore_s"] = time.perf_counter() - started
    result["restore_cpu_s"] = time.process_time() - cpu
    result["held"] = store.size()
    release_memory()
    result["rss_after"] = rss_bytes()
    progress(f"[{args.store}] restored {result['held']:,} in {result['restore_s']:.1f} s; "
             f"RSS {result['rss_after'] / 2**20:,.0f} MiB")

    found = 0
    started, cpu = time.perf_counter(), time.process_time()
    for name, partition in probes:
        found += store.secret_of(name, partition) is not None
    result["lookups_per_s"] = len(probes) / (time.perf_counter() - started)
    result["lookups_per_cpu_s"] = len(probes) / (time.process_time() - cpu)
    result["lookups_found"] = found
    progress(f"[{args.store}] {len(probes):,} cold lookups: {result['lookups_per_s']:,.0f}/s "
             f"({result['lookups_per_cpu_s']:,.0f} per CPU second)")

    subjects = SubjectState(store, None, requests, consent)
    by_source: dict[str, list[tuple[bytes, int]]] = {}
    for source, value, partition in work:
        by_source.setdefault(source, []).append((value, partition))
    new_secrets = 0
    spent = spent_cpu = 0.0
    for source, items in by_source.items():
        pipeline = pipelines[source]
        for lo in range(0, len(items), args.batch):
            batch = items[lo:lo + args.batch]
            began, cpu = time.perf_counter(), time.process_time()
            out = pipeline.process([v for v, _ in batch], [p for _, p in batch], subjects)
            spent += time.perf_counter() - began
            spent_cpu += time.process_time() - cpu
            new_secrets += len(out.new_secrets)
    result["events_per_s"] = len(work) / spent
    result["events_per_cpu_s"] = len(work) / spent_cpu
    result["new_secrets"] = new_secrets   # 0 when every event's subject was restored
    result["rss_end"] = rss_bytes()
    progress(f"[{args.store}] full path: {len(work):,} events, {result['events_per_s']:,.0f}/s")
    for state in (store, consent, requests):
        await state.stop()
    return result


def hot_path(subjects: int, lookups: int, rounds: int) -> None:
    """secret_of in memory on a filled store (no broker): against whatever streams/ is on PYTHONPATH."""
    from collections import namedtuple

    from streams.metrics import Metrics
    from streams.state.secrets import SecretStore

    record = namedtuple("record", "key value")
    store = SecretStore("127.0.0.1:9", "unused", Metrics())   # the memory store, also of checkouts before issue 14
    rng = random.Random(3)
    for p in range(4):
        store.load(p, [record(subject(n).encode(), rng.randbytes(SECRET_BYTES))
                       for n in range(subjects) if partition_of(subject(n).encode(), 4) == p])
    probes = [(subject(n), partition_of(subject(n).encode(), 4))
              for n in (rng.randrange(subjects) for _ in range(lookups))]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for name, partition in probes:
            store.secret_of(name, partition)
        best = min(best, time.perf_counter() - started)
    print(f"hot path: SecretStore.secret_of in memory, {subjects:,} subjects in 4 partitions, "
          f"best of {rounds} rounds of {lookups:,} lookups: {best / lookups * 1e9:,.0f} ns/lookup "
          f"({lookups / best:,.0f}/s); streams from {Path(sys.modules['streams'].__file__ or '').parent.parent}")


# -- the run ----------------------------------------------------------------------------------------
def main() -> int:
    head, _, rest = (__doc__ or "").partition("\n\n")
    parser = argparse.ArgumentParser(description=" ".join(head.split()),
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=rest)
    parser.add_argument("--subjects", type=int, default=10_000_000,
                        help="subjects in the changelog (default %(default)s)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the set (default %(default)s)")
    parser.add_argument("--stores", default="memory,rocksdb", help="comma-separated: memory, rocksdb")
    parser.add_argument("--lookups", type=int, default=200_000, help="cold secret_of lookups (default %(default)s)")
    parser.add_argument("--events", type=int, default=40_000, help="events through the full path (default %(default)s)")
    parser.add_argument("--batch", type=int, default=500, help="events per pipeline batch (default %(default)s)")
    parser.add_argument("--hot-path", action="store_true", help="only time secret_of in memory, no broker")
    parser.add_argument("--rounds", type=int, default=7, help="--hot-path: rounds, the best counts")
    worker_args = parser.add_argument_group("internal (the per-store worker process)")
    for name in ("--worker-bootstrap", "--worker-prefix", "--worker-data-dir", "--worker-store"):
        worker_args.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.hot_path:
        hot_path(min(args.subjects, 1_000_000), args.lookups, args.rounds)
        return 0
    if args.worker_store:
        args.bootstrap, args.prefix = args.worker_bootstrap, args.worker_prefix
        args.data_dir, args.store = args.worker_data_dir, args.worker_store
        print(json.dumps(asyncio.run(worker(args))), flush=True)
        return 0

    from streams.broker import EmbeddedBroker
    from streams.state.secrets import changelog_topic
    from streams.topics import ensure_topics

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if "memory" not in stores:
        stores.insert(0, "memory")   # the baseline
    load_before = os.getloadavg()
    results: list[dict[str, Any]] = []
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-state-scale-") as tmp:
        broker_pid = broker._process.pid if broker._process else None
        prefix = f"bench-scale-{os.getpid()}-{secrets.token_hex(2)}."
        settings = settings_for(prefix, Path(tmp), args.partitions, "memory://")
        ensure_topics(settings, broker.bootstrap)
        topic = changelog_topic(settings)
        progress(f"embedded broker on {broker.bootstrap} (pid {broker_pid}); filling {topic} with "
                 f"{args.subjects:,} secrets; load average {load_before[0]:.2f}")
        fill_s = asyncio.run(fill(broker.bootstrap, topic, args.subjects, args.partitions))
        for store in stores:
            command = [sys.executable, __file__, "--subjects", str(args.subjects), "--partitions", str(args.partitions),
                       "--lookups", str(args.lookups), "--events", str(args.events), "--batch", str(args.batch),
                       "--worker-bootstrap", broker.bootstrap, "--worker-prefix", prefix,
                       "--worker-data-dir", str(Path(tmp) / store), "--worker-store", f"{store}://"]
            done = subprocess.run(command, stdout=subprocess.PIPE, check=True, env=dict(os.environ))
            results.append(json.loads(done.stdout.decode().strip().splitlines()[-1]))
        broker_rss = _rss_of(broker_pid)
    load_after = os.getloadavg()
    report(args, results, fill_s, broker_rss, load_before, load_after)
    return 0


def _rss_of(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def report(args: argparse.Namespace, results: list[dict[str, Any]], fill_s: float, broker_rss: int,
           load_before: tuple[float, ...], load_after: tuple[float, ...]) -> None:
    base = results[0]
    mib = 2**20
    print(f"\nState at scale: {args.subjects:,} subject secrets in {args.partitions} partitions "
          f"(changelog written in {fill_s:,.0f} s, {args.subjects / fill_s:,.0f}/s; broker RSS "
          f"{broker_rss / mib:,.0f} MiB)")
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} CPUs")
    names = [r["store"] for r in results]

    def row(label: str, values: list[str]) -> None:
        print(f"| {label} | " + " | ".join(values) + " |")

    def vs(key: str, r: dict[str, Any]) -> str:
        ratio = r[key] / base[key] if base[key] else 0.0
        return f"{r[key]:,.0f}" + ("" if r is base else f" ({ratio:.2f}x)")

    row("", names)
    row("---", ["---"] * len(names))
    row("secrets held after restore", [f"{r['held']:,}" for r in results])
    row("restore, s (secrets/s)", [f"{r['restore_s']:,.1f} ({r['held'] / r['restore_s']:,.0f}/s)" for r in results])
    row("  restore CPU of the worker, s", [f"{r['restore_cpu_s']:,.1f}" for r in results])
    row("worker RSS before restore, MiB", [f"{r['rss_before'] / mib:,.0f}" for r in results])
    row("worker RSS after restore, MiB", [f"{r['rss_after'] / mib:,.0f}" + (
        "" if r is base else f" ({r['rss_after'] / base['rss_after']:.2f}x)") for r in results])
    row("  growth per subject, bytes", [f"{(r['rss_after'] - r['rss_before']) / max(r['held'], 1):,.0f}"
                                        for r in results])
    row(f"cold secret_of lookups/s ({args.lookups:,}, uniform over all)", [vs("lookups_per_s", r) for r in results])
    row("  per CPU second (less sensitive to other load)", [vs("lookups_per_cpu_s", r) for r in results])
    row(f"full path events/s ({args.events:,} events, batches of {args.batch})",
        [vs("events_per_s", r) for r in results])
    row("  per CPU second (less sensitive to other load)", [vs("events_per_cpu_s", r) for r in results])
    row("  new secrets made (0: every subject was restored)", [f"{r['new_secrets']:,}" for r in results])
    row("worker RSS at the end, MiB", [f"{r['rss_end'] / mib:,.0f}" for r in results])


if __name__ == "__main__":
    sys.exit(main())
