"""Small synchronous Kafka clients for the CLI, the demo and the tests (kafka-python)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from processors.errors import LetheError
from streams.kafka import kafka_python_options
from streams.settings import Settings


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp: int | None = None   # milliseconds since the epoch (the producer's or the broker's time)


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(**kafka_python_options(), bootstrap_servers=bootstrap, client_id="lethe-publish",
                         acks="all",
                         linger_ms=5, batch_size=256 * 1024, max_request_size=16 * 1024 * 1024)


def group_consumer(settings: Settings, topics: list[str], group: str, client_id: str) -> KafkaConsumer:
    """A consumer in ``group`` that commits by hand, from the earliest offset, with the session timeout
    of the settings (short timeouts keep group joins fast on the embedded broker)."""
    assert settings.bootstrap_servers is not None
    session_ms = int(settings.session_timeout_s * 1000)
    return KafkaConsumer(*topics, **kafka_python_options(), bootstrap_servers=settings.bootstrap_servers,
                         group_id=group,
                         client_id=client_id, enable_auto_commit=False, auto_offset_reset="earliest",
                         session_timeout_ms=session_ms, heartbeat_interval_ms=max(session_ms // 3, 500))


OUTAGE_PAUSE_S = 0.5   # between polls while the broker is unreachable (BrokerWatch says so once)


def poll(consumer: KafkaConsumer, timeout_ms: int) -> dict[Any, list[Any]]:
    """``consumer.poll``, empty while the broker is unreachable instead of raising.

    kafka-python's poll may raise a connection error out of its coordinator lookup when the broker
    has gone away (a retriable error): the long-running processes (store agent, sink) wait for the
    broker instead of exiting. Any other error is raised.
    """
    try:
        polled: dict[Any, list[Any]] = consumer.poll(timeout_ms=timeout_ms)
    except KafkaError as exc:
        if not exc.retriable:
            raise
        time.sleep(OUTAGE_PAUSE_S)
        return {}
    return polled


def stop_flag() -> list[bool]:
    """A list that becomes non-empty when the process receives SIGTERM or SIGINT (Ctrl-C): the
    process's loop then finishes what it is at, or leaves it uncommitted, and stops."""
    stopping: list[bool] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    return stopping


def publish(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes | None]]) -> int:
    """Publish (topic, key, value) records; return how many were acknowledged."""
    client = producer(bootstrap)
    try:
        futures = [client.send(topic, value=value, key=key) for topic, key, value in records]
        client.flush()
        for future in futures:
            future.get(timeout=30)
        return len(futures)
    finally:
        client.close()


def read(bootstrap: str, topics: list[str], expect: int | None = None, timeout: float = 30.0,
         idle: float | None = None) -> Iterator[Record]:
    """Read ``topics`` from the beginning, without a consumer group.

    Stops after ``expect`` records, after ``timeout`` seconds, or (when ``idle`` is given)
    once no record has arrived for ``idle`` seconds.
    """
    consumer = KafkaConsumer(**kafka_python_options(), bootstrap_servers=bootstrap, client_id="lethe-read",
                             group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=200)
    try:
        partitions = []
        deadline = time.monotonic() + timeout
        wait_for_topic = time.monotonic() + min(timeout, 5.0)
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            while not ids and time.monotonic() < wait_for_topic:
                time.sleep(0.2)
                ids = consumer.partitions_for_topic(topic)
            if not ids:
                raise LetheError(f"topic {topic} does not exist (create it with `lethe topics create`)")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        seen = 0
        last = time.monotonic()
        while time.monotonic() < deadline and (expect is None or seen < expect):
            batch = consumer.poll(timeout_ms=200)
            if not batch:
                if idle is not None and time.monotonic() - last > idle:
                    return
                continue
            last = time.monotonic()
            for messages in batch.values():
                for m in messages:
                    seen += 1
                    yield _record(m)
    finally:
        consumer.close()


def _record(m: Any) -> Record:
    return Record(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers or []), m.timestamp)


def subject_partition(key: bytes, partitions: int) -> int:
    """The partition of a record keyed ``key``: Kafka's default partitioner (murmur2), as Lethe's producers
    (kafka-python, aiokafka) and the Java client's apply it; Lethe writes a subject's state there too."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def partition_counts(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """The partition count of each of ``topics`` that exists."""
    consumer = KafkaConsumer(**kafka_python_options(), bootstrap_servers=bootstrap, client_id="lethe-read")
    try:
        return {topic: len(ids) for topic in topics if (ids := consumer.partitions_for_topic(topic))}
    finally:
        consumer.close()


def read_to_end(bootstrap: str, partitions: Iterable[tuple[str, int]], stall: float = 60.0) -> Iterator[Record]:
    """Every record of ``partitions`` ((topic, partition) pairs) from the beginning to the end offset
    observed at start, however long that takes; no group, nothing committed.

    The end is the larger of the listed end offset and the high watermark of the first fetch: the
    embedded broker lists the first offset of the last batch + 1 (BROKER-NOTES.md), its fetches
    give the true end. Records written after that are not read. Only a read that makes no progress
    for ``stall`` seconds (the broker is gone) stops, with an error, never a silently short answer.
    """
    consumer = KafkaConsumer(**kafka_python_options(), bootstrap_servers=bootstrap, client_id="lethe-read",
                             group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, partition) for topic, partition in partitions]
        ends = {tp: end for tp, end in consumer.end_offsets(tps).items() if end}   # an empty one: nothing to read
        if not ends:
            return
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        settled: set[TopicPartition] = set()   # the first fetch's high watermark is known
        progress = time.monotonic()
        while ends:
            batch = consumer.poll(timeout_ms=500)
            if batch:
                progress = time.monotonic()
            elif time.monotonic() - progress > stall:
                left = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in ends)
                raise LetheError(f"reading {left} made no progress for {stall:.0f} s; is the broker up?")
            for tp in ends.keys() - settled:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    ends[tp] = max(ends[tp], highwater)
                    settled.add(tp)
            for tp, messages in batch.items():
                end = ends.get(tp)
                for m in messages:
                    if end is not None and m.offset < end:
                        yield _record(m)
            for tp in list(ends):
                if tp in settled and consumer.position(tp) >= ends[tp]:
                    del ends[tp]
                    consumer.pause(tp)
    finally:
        consumer.close()
