"""Commands per second one store agent applies and acks, on SQLite and PostgreSQL, per batch size.

    .venv/bin/python bench/agent_rate.py [--commands 4000] [--batches 1,500] [--stores sqlite,postgresql]
                                         [--runs 1] [--agent-repo PATH]

One embedded broker. A measurement gets its own topic prefix and a fresh database (an SQLite file,
or a new PostgreSQL database at 127.0.0.1:5432, trust auth, dropped afterwards) holding the
reference sink's tables ``orders`` and ``logs`` with one order and one log row per subject. It
publishes ``--commands`` erasure commands (a delete of the orders and of the logs of each of
``--commands / 2`` subjects, keyed by subject, on 4 partitions) *before* the agent starts, then
starts ``lethe store-agent`` (mapping ``deploy/store-mapping.toml``) with ``LETHE_AGENT_BATCH`` =
the batch size and reads ``lifecycle.acks.v1`` until every command has an ack. The rate is
acks ÷ (last − first ack's record timestamp), so start-up and the group join are left out; CPU is
the agent's over that window (``/proc``). Every ack must be ``applied`` and no row of the subjects
may be left, or the run fails. ``--batch 1`` is one transaction and one awaited ack per command,
the agent's behaviour before batching; ``--agent-repo`` adds a row for the agent of another
checkout (e.g. a detached worktree of an older commit) on the same data. Batch sizes and stores
run interleaved, ``--runs`` times; the median is reported with the ratio to batch 1 of the same
store. A benchmark, not a test: nothing asserts on time. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, func, select

from streams.broker import EmbeddedBroker
from streams.client import publish
from streams.kafka import kafka_python_options
from streams.settings import REPO_ROOT, Settings
from streams.store.sink import logs, metadata, orders
from streams.topics import ensure_topics

sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "bench"))
from erasure import cpu_seconds, progress
from support import store_database


def load_rows(url: str, subjects: list[str]) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(orders.insert(), [{"order_id": f"o-{s}", "customer_id": s, "customer_email": f"{s}@x.example"}
                                       for s in subjects])
        conn.execute(logs.insert(), [{"event_id": f"e-{s}", "customer_id": s, "ip": "192.0.2.1"} for s in subjects])
    engine.dispose()


def rows_left(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        left = sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (orders, logs))
    engine.dispose()
    return int(left)


def commands_for(subjects: list[str]) -> list[dict[str, object]]:
    return [{"command_id": uuid.uuid4().hex, "issued_at": "2026-12-03T00:00:00+00:00", "action": "delete",
             "subject": s, "selector": {"family": family, "record_key": None}, "categories": [], "fields": [],
             "updates": {}, "rule": "bench", "cause": "request", "due_at": "2026-12-03T00:00:00+00:00"}
            for s in subjects for family in ("orders", "logs")]


def read_acks(bootstrap: str, topic: str, expect: int, timeout: float,
              agent: subprocess.Popen[bytes]) -> list[tuple[int, dict[str, object]]]:
    """(record timestamp ms, ack) of every ack, read until ``expect`` distinct command ids have one."""
    consumer = KafkaConsumer(**kafka_python_options(), bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        acks: list[tuple[int, dict[str, object]]] = []
        ids: set[object] = set()
        deadline = time.monotonic() + timeout
        while len(ids) < expect:
            if time.monotonic() > deadline or agent.poll() is not None:
                raise RuntimeError(f"{len(ids)} of {expect} commands acked (agent exit code {agent.returncode})")
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    ack = json.loads(record.value)
                    acks.append((record.timestamp, ack))
                    ids.add(ack["command_id"])
        return acks
    finally:
        consumer.close()


def measure(broker: EmbeddedBroker, kind: str, batch: int | None, n: int, workdir: Path,
            repo: Path, profile: Path | None = None) -> tuple[float, float]:
    """(acks per second, agent CPU in cores) of one agent; ``batch`` None: the agent's own default."""
    tag = f"{kind}-{batch or 'repo'}-{secrets.token_hex(3)}"
    subjects = [f"c{i:06d}" for i in range(n // 2)]
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=f"{tag}.",
               LETHE_APP_ID=tag, LETHE_DATA_DIR=str(workdir / tag), LETHE_METRICS_PORT="0",
               LETHE_SESSION_TIMEOUT_S="4", PYTHONPATH=str(repo))
    if batch is not None:
        env["LETHE_AGENT_BATCH"] = str(batch)
    (workdir / tag).mkdir(parents=True)
    with store_database(kind, workdir / tag) as url:
        env["LETHE_STORE_URL"] = url
        load_rows(url, subjects)
        settings = Settings.from_env(env)
        ensure_topics(settings, broker.bootstrap)
        commands = commands_for(subjects)
        publish(broker.bootstrap, [(settings.topics.name("lifecycle.commands.v1"), str(c["subject"]).encode(),
                                    json.dumps(c).encode()) for c in commands])
        log_path = workdir / f"{tag}.log"
        with open(log_path, "wb") as log:
            profiler = ["-m", "cProfile", "-o", str(profile / f"{tag}.prof")] if profile else []
            agent = subprocess.Popen([sys.executable, *profiler, "-m", "streams.cli", "store-agent", "--mapping",
                                      str(REPO_ROOT / "deploy" / "store-mapping.toml")], env=env, cwd=repo,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            samples: list[tuple[float, float]] = []   # (time, agent CPU seconds), to cut the window

            def sample() -> None:
                samples.append((time.time(), cpu_seconds(agent.pid)))
            sample()
            acks = read_acks(broker.bootstrap, settings.topics.name("lifecycle.acks.v1"), len(commands), 600, agent)
            sample()
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
        statuses = {str(a["status"]) for _, a in acks}
        if statuses != {"applied"}:
            raise RuntimeError(f"acks {statuses}, want only applied; log {log_path}")
        left = rows_left(url)
        if left:
            raise RuntimeError(f"{left} rows of erased subjects left; log {log_path}")
    stamps = sorted(ts for ts, _ in acks)
    span = (stamps[-1] - stamps[0]) / 1000
    cpu = (samples[-1][1] - samples[0][1]) / max(samples[-1][0] - samples[0][0], 1e-9)
    return (len(stamps) - 1) / span if span > 0 else float("inf"), cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=4000, help="commands per measurement (default 4000)")
    parser.add_argument("--batches", default="1,500", help="LETHE_AGENT_BATCH values, comma-separated "
                                                           "(default 1,500; 1 is the one-by-one baseline)")
    parser.add_argument("--stores", default="sqlite,postgresql", help="sqlite, postgresql or both (default)")
    parser.add_argument("--runs", type=int, default=1, help="repetitions; the median is reported (default 1)")
    parser.add_argument("--agent-repo", type=Path, default=None,
                        help="also measure the agent of this checkout (its own batching, if any)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run each agent under cProfile, writing DIR/<store>-<batch>-<id>.prof")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    kinds = args.stores.split(",")
    if args.commands < 2 or args.runs < 1 or any(b < 1 for b in batches) or set(kinds) - {"sqlite", "postgresql"}:
        parser.error("--commands >= 2, --runs >= 1, batch sizes >= 1, stores among sqlite and postgresql")
    variants: list[tuple[str, int | None, Path]] = [(f"batch {b}", b, REPO_ROOT) for b in batches]
    if args.agent_repo is not None:
        variants.append((f"agent of {args.agent_repo}", None, args.agent_repo.resolve()))
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-agent-rate-"))
    with EmbeddedBroker() as broker:
        progress(f"embedded broker on {broker.bootstrap}; files in {workdir}")
        for run in range(args.runs):
            for kind in kinds:
                for label, batch, repo in variants:
                    rate, cpu = measure(broker, kind, batch, args.commands, workdir, repo, args.profile)
                    progress(f"run {run + 1} {kind} {label}: {rate:,.0f} acks/s, agent CPU {100 * cpu:.0f}%")
                    results.setdefault((kind, label), []).append((rate, cpu))
    print(f"\nStore agent rate, {args.commands:,} delete commands pre-loaded, embedded broker, {os.cpu_count()} "
          f"cores, median of {args.runs} run(s)\n")
    print("| store | agent | acks/s | vs batch 1 | agent CPU (cores) | CPU ms per command |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for kind in kinds:
        base = statistics.median(r for r, _ in results.get((kind, "batch 1"), [(float("nan"), 0)]))
        for label, _, _ in variants:
            rate = statistics.median(r for r, _ in results[(kind, label)])
            cpu = statistics.median(c for _, c in results[(kind, label)])
            print(f"| {kind} | {label} | {rate:,.0f} | {rate / base:.1f}x | {cpu:.2f} | {1000 * cpu / rate:.2f} |")
    print("\nCommand: .venv/bin/python bench/agent_rate.py " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
