"""The measured paths of bench/throughput.py: aiokafka and Faust pass-throughs, `lethe run` with one or
more worker processes, and the processors alone (no Kafka)."""


from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from _bench_kit import (
    BATCH,
    HERE,
    OUTPUTS,
    PARTITIONS,
    SESSION_TIMEOUT_S,
    SOURCES,
    WITHIN_S,
    BenchError,
    CpuWindow,
    LineReader,
    Sample,
    Workload,
    check_count,
    collect,
    create_topics,
    preload,
    progress,
    stop_process,
    tail,
    timeout_for,
)
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer

from processors.decode import Limits
from processors.pipeline import TopicPipeline
from processors.policy import load_policy
from processors.pseudonym import new_subject_secret
from processors.schemas import SchemaCatalog
from streams.broker import free_port
from streams.producer import producer_config
from streams.settings import REPO_ROOT, Settings
from streams.topics import ensure_topics


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



def _confluent_passthrough(bootstrap: str, tag: str, n: int, broker_pid: int | None, deadline: float) -> CpuWindow:
    """confluent-kafka (librdkafka): ``consume`` batches of up to 2000 -> ``produce`` each with the
    settings of Lethe's own producers (streams/producer.py), every batch flushed (awaited) before the next."""
    src, dst = f"{tag}.a", f"{tag}.b"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": tag, "client.id": f"{tag}-in",
                         "auto.offset.reset": "earliest", "session.timeout.ms": int(SESSION_TIMEOUT_S * 1000),
                         "heartbeat.interval.ms": 2000})
    producer = Producer(producer_config(bootstrap, f"{tag}-out", 16 * 1_048_576, linger_ms=5))
    consumer.subscribe([src])
    cpu = CpuWindow(os.getpid(), broker_pid)
    try:
        count = 0
        while count < n:
            if time.monotonic() > deadline:
                raise BenchError(f"confluent-kafka pass-through moved only {count}/{n} records in time")
            messages = consumer.consume(2000, 0.2)
            if not messages:
                continue
            if count == 0:
                cpu.start()
            for m in messages:
                if m.error() is None:
                    producer.produce(dst, m.value(), m.key())
                    count += 1
            producer.flush()
        cpu.stop()
        cpu.note = cpu.note.replace("main thread", "this process, main thread")
        return cpu
    finally:
        consumer.close()


def measure_confluent(bootstrap: str, workload: Workload, tag: str, broker_pid: int | None) -> Sample:
    n = len(workload)
    create_topics(bootstrap, [f"{tag}.a", f"{tag}.b"])
    asyncio.run(preload(bootstrap, ((f"{tag}.a", k, v) for _, k, v in workload.records)))
    cpu = _confluent_passthrough(bootstrap, tag, n, broker_pid, time.monotonic() + timeout_for(n))
    found = asyncio.run(collect(bootstrap, [f"{tag}.b"], n))
    check_count(found.total, n, "confluent-kafka pass-through")
    rate, span = found.rate()
    return Sample(rate, span, cpu.note, cpu.rest)


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


