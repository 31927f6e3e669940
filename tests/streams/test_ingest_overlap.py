"""A batch's writes overlap the processing of the next one (streams/ingest.py ``_consume``), in order.

On the embedded broker, with a real consumer group: the next batch of orders or logs is processed
while the previous batch's writes are in flight, but its own writes start only once the previous
batch's are done and committed; a batch of a state-bearing topic (requests) is processed only
after every earlier write is done; every offset is committed in the end. And the state writes
behind it: an update staged while a flush is in flight is written by the next flush, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from support import Kept, own_topics

from streams.broker import EmbeddedBroker
from streams.handler import BatchHandler, Staged
from streams.ingest import DirectIngest
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.requests import requests_topic

pytestmark = pytest.mark.integration

Log = list[tuple[float, str, str, int]]   # (when, topic, what, the batch's first offset)


class Recording:
    """Stages a batch by logging it; its write (``send``) takes ``write_s`` and is logged too."""

    def __init__(self, topic: str, log: Log, write_s: float) -> None:
        self.topic, self.log, self.write_s = topic, log, write_s
        self.positions: dict[int, int] = {}
        self.records = 0
        self.threads: list[bool] = []

    async def stage(self, messages: Sequence[Any], in_thread: bool = False) -> Staged:
        first = messages[0].offset
        self.log.append((time.monotonic(), self.topic, "stage", first))
        self.threads.append(in_thread)
        await asyncio.to_thread(time.sleep, 0.1) if in_thread else time.sleep(0.1)   # the processing
        self.log.append((time.monotonic(), self.topic, "staged", first))
        self.records += len(messages)

        async def send() -> None:
            self.log.append((time.monotonic(), self.topic, "write", first))
            await asyncio.sleep(self.write_s)
            self.log.append((time.monotonic(), self.topic, "written", first))
        return Staged(send=send)


class RecordingBatches(Recording, BatchHandler):   # a BatchHandler to ingest: orders, logs, sources
    def __init__(self, topic: str, log: Log, write_s: float) -> None:   # no pipeline needed
        Recording.__init__(self, topic, log, write_s)


async def produce(bootstrap: str, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, b"{}", key=f"k{i}".encode(), partition=0)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, tps: list[TopicPartition]) -> list[int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return [await consumer.committed(tp) for tp in tps]
    finally:
        await consumer.stop()


def test_the_next_batch_is_processed_while_the_previous_one_is_written(broker: EmbeddedBroker,
                                                                        tmp_path: Path) -> None:
    base = own_topics(broker.bootstrap, "overlap", tmp_path)
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": base.topics.prefix, "LETHE_APP_ID": base.app_id,
                                  "LETHE_DATA_DIR": str(tmp_path), "LETHE_BATCH_SIZE": "3",
                                  "LETHE_BATCH_WITHIN_MS": "20"})
    orders, requests = settings.topics.name("orders.v1"), settings.topics.name("privacy-requests.v1")
    log: Log = []
    batches = RecordingBatches(orders, log, write_s=0.3)
    states = Recording(requests, log, write_s=0.05)

    async def scenario() -> list[int | None]:
        await produce(broker.bootstrap, orders, 30)
        ingest = DirectIngest(settings, broker.bootstrap, {orders: batches, requests: states}, [], Metrics())
        await ingest.start()
        try:
            deadline = time.monotonic() + 60
            while batches.records < 30 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await produce(broker.bootstrap, requests, 3)
            while states.records < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await produce(broker.bootstrap, orders, 6)
            while batches.records < 36 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await ingest.stop()
        return await committed(broker.bootstrap, f"{settings.app_id}.ingest",
                               [TopicPartition(orders, 0), TopicPartition(requests, 0)])

    commits = asyncio.run(scenario())
    assert batches.records == 36 and states.records == 3
    assert commits == [36, 3], "not every batch was committed"
    writes = [(when, what) for when, _, what, _ in log if what in ("write", "written")]
    # one batch written at a time: every write ends before the next begins
    assert [what for _, what in writes] == ["write", "written"] * (len(writes) // 2), log
    stages = [(when, topic) for when, topic, what, _ in log if what in ("stage", "staged")]
    spans = list(zip([when for when, what in writes if what == "write"],
                     [when for when, what in writes if what == "written"], strict=True))
    during = {(when, topic): any(start < when < end for start, end in spans) for when, topic in stages}
    assert any(inside for (_, topic), inside in during.items() if topic == orders), \
        f"no batch of orders was processed while the previous one was being written: {log}"
    assert True in batches.threads, "no batch of orders was processed in a thread"
    assert not any(inside for (_, topic), inside in during.items() if topic == requests), \
        f"a batch of requests was processed while an earlier batch was being written: {log}"
    assert True not in states.threads


def test_an_update_staged_during_a_flush_is_written_by_the_next_one(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topic = requests_topic(own_topics(broker.bootstrap, "midflush", tmp_path))

    async def run() -> tuple[int, int, list[bytes]]:
        store = Kept(broker.bootstrap, topic)
        await store.start()
        try:
            for n in range(50):
                store.stage(0, f"first-{n}".encode(), b"{}")
            flushing = asyncio.ensure_future(store.flush())
            await asyncio.sleep(0)   # the flush has taken the first 50 and waits for the broker
            for n in range(10):
                store.stage(0, f"second-{n}".encode(), b"{}")
            await flushing
            left = store.pending
            await store.flush()
            after = store.pending
        finally:
            await store.stop()
        again = Kept(broker.bootstrap, topic)
        await again.restore({0})
        return left, after, [key for _, key in again.read]

    left, after, read = asyncio.run(run())
    assert (left, after) == (10, 0)
    assert sorted(read) == sorted([f"first-{n}".encode() for n in range(50)]
                                  + [f"second-{n}".encode() for n in range(10)])


def test_updates_staged_from_a_thread_during_flushes_are_all_written(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A batch processed in a thread stages while the loop's flushes take what is staged: none is lost."""
    topic = requests_topic(own_topics(broker.bootstrap, "threadflush", tmp_path))
    n = 60_000

    async def run() -> list[bytes]:
        store = Kept(broker.bootstrap, topic)
        await store.start()
        try:
            def stage_all() -> None:
                for i in range(n):
                    store.stage(i % 2, b"k%d" % i, b"{}")

            staging = asyncio.ensure_future(asyncio.to_thread(stage_all))
            while not staging.done():
                await store.flush()
                await asyncio.sleep(0)   # (a flush with nothing staged returns at once)
            await staging
            await store.flush()
        finally:
            await store.stop()
        again = Kept(broker.bootstrap, topic)
        await again.restore({0, 1})
        return [key for _, key in again.read]

    read = asyncio.run(run())
    assert len(read) == n and set(read) == {b"k%d" % i for i in range(n)}


def test_a_rebalance_while_a_batch_is_in_flight_completes(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """getmany waits for the new assignment with no time limit, and the rebalance listener waits for the
    lock held while a batch is in flight: the loop must let the lock go rather than wait in getmany."""
    base = own_topics(broker.bootstrap, "overlapjoin", tmp_path)
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": base.topics.prefix, "LETHE_APP_ID": base.app_id,
                                  "LETHE_DATA_DIR": str(tmp_path), "LETHE_BATCH_SIZE": "3",
                                  "LETHE_BATCH_WITHIN_MS": "20", "LETHE_SESSION_TIMEOUT_S": "6"})
    orders = settings.topics.name("orders.v1")
    first, second = RecordingBatches(orders, [], write_s=0.3), RecordingBatches(orders, [], write_s=0.3)
    n = 150

    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        one = DirectIngest(settings, broker.bootstrap, {orders: first}, [], Metrics())
        two = DirectIngest(settings, broker.bootstrap, {orders: second}, [], Metrics())
        await one.start()
        try:
            for i in range(n):   # traffic all along: batches are in flight when the second one joins
                await producer.send_and_wait(orders, b"{}", key=f"k{i}".encode(), partition=i % 4)
                await asyncio.sleep(0.02)
                if i == n // 3:
                    await two.start()
            deadline = time.monotonic() + 60
            while first.records + second.records < n and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:   # bounded: a deadlocked ingest does not stop either
            await producer.stop()
            await asyncio.wait_for(two.stop(), 20)
            await asyncio.wait_for(one.stop(), 20)

    asyncio.run(scenario())
    assert second.records > 0, "the second ingest never got a partition (the first hung in the rebalance)"
    assert first.records + second.records >= n, (first.records, second.records)
