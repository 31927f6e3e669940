"""The worker's librdkafka producer (streams/producer.py) against the embedded broker.

Keyed records must land on the partitions aiokafka (and the Java client) put them on: a subject's
outputs and state are co-partitioned with its input. A record the broker does not take fails its
batch, and publish_all sends the batch again with backoff until the broker has it (at-least-once).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.broker import EmbeddedBroker, free_port
from streams.exceptions import RecordTooLarge
from streams.kafka import aiokafka_options, kafka_python_options
from streams.outputs import Backoff, publish_all, retrying
from streams.producer import Producer, producer_config

pytestmark = pytest.mark.integration

def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """The async test run to its end in a fresh event loop (the project has no async pytest plugin)."""
    @functools.wraps(test)
    def sync(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return sync


KEYS = [b"", b"c", b"customer-0001", "Zoë Ørsted-Łukasz".encode(), b"\x00\xff" * 40, b"k" * 1000,
        *(str(uuid.UUID(int=n * 7919)).encode() for n in range(150)),
        *(f"customer-{n:05d}".encode() for n in range(150))]


def new_topic(bootstrap: str, partitions: int) -> str:
    topic = f"t{time.monotonic_ns()}-producer"
    admin = KafkaAdminClient(**kafka_python_options(), bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    return topic


async def read(bootstrap: str, topic: str, count: int, timeout: float = 60) -> list[tuple[bytes | None, bytes, int]]:
    """The first ``count`` records of ``topic``: (key, value, partition)."""
    consumer = AIOKafkaConsumer(topic, **aiokafka_options(), bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[bytes | None, bytes, int]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                found += [(record.key, record.value or b"", tp.partition) for record in records]
    finally:
        await consumer.stop()
    return found


@pytest.mark.parametrize("partitions", [1, 3, 4, 7, 12])
@run
async def test_keyed_records_land_where_aiokafka_put_them(broker: EmbeddedBroker, partitions: int) -> None:
    topic = new_topic(broker.bootstrap, partitions)
    legacy = AIOKafkaProducer(**aiokafka_options(), bootstrap_servers=broker.bootstrap, acks="all")
    await legacy.start()
    try:
        futures = [await legacy.send(topic, b"aiokafka", key=key) for key in KEYS]
        placed = {key: (await future).partition for key, future in zip(KEYS, futures, strict=True)}
    finally:
        await legacy.stop()
    producer = Producer(producer_config(broker.bootstrap, "test", 1_048_576, linger_ms=5))
    try:
        batch = producer.batch()
        for key in KEYS:
            batch.send(topic, b"librdkafka", key)
        assert await batch.delivered() == []
    finally:
        await producer.stop(within=5)
    ours = {key: partition for key, value, partition in await read(broker.bootstrap, topic, 2 * len(KEYS))
            if value == b"librdkafka" and key is not None}
    assert len(ours) == len(set(KEYS))
    moved = {key: (placed[key], ours[key]) for key in ours if ours[key] != placed[key]}
    assert moved == {}
    if partitions > 1:
        assert len(set(ours.values())) == partitions   # spread, not all on one partition


@run
async def test_an_undelivered_batch_is_sent_again_until_the_broker_takes_it(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    first = EmbeddedBroker(port=port).__enter__()
    config = producer_config(first.bootstrap, "test", 1_048_576, linger_ms=5)
    config["message.timeout.ms"] = 1_500   # a failed attempt within the test's time
    producer = Producer(config)
    topic = new_topic(first.bootstrap, 2)
    first.__exit__(None, None, None)   # the broker goes away (and a restart forgets every topic)
    out = [(topic, f"v{n}".encode(), f"k{n}".encode(), None, [("h", b"1")]) for n in range(20)]
    caplog.set_level(logging.WARNING, logger="streams.outputs")
    publishing = asyncio.ensure_future(publish_all(lambda: producer, out, "test records"))
    try:
        deadline = time.monotonic() + 30
        while "publishing test records failed (DeliveryFailed)" not in caplog.text:
            assert not publishing.done(), "published with no broker"
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.1)
        with EmbeddedBroker(port=port) as second:
            await asyncio.wait_for(publishing, 60)
            found = await read(second.bootstrap, topic, len(out))
    finally:
        publishing.cancel()
        await producer.stop(within=1)
    assert {value for _, value, _ in found} >= {value for _, value, _, _, _ in out}   # at least once


@run
async def test_a_record_above_the_maximum_size_is_refused_and_the_rest_delivered(broker: EmbeddedBroker) -> None:
    topic = new_topic(broker.bootstrap, 2)
    producer = Producer(producer_config(broker.bootstrap, "test", 100_000, linger_ms=5))
    try:
        batch = producer.batch()
        batch.send(topic, b"small", b"a")
        with pytest.raises(RecordTooLarge, match=topic):
            batch.send(topic, b"x" * 200_000, b"b")
        batch.send(topic, b"also small", b"c")
        assert await batch.delivered() == []
    finally:
        await producer.stop(within=5)
    assert sorted(value for _, value, _ in await read(broker.bootstrap, topic, 2)) == [b"also small", b"small"]


@run
async def test_retrying_retries_a_refused_batch_with_backoff(broker: EmbeddedBroker,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A failure reported by a delivery callback is what ``retrying`` retries (not only aiokafka's errors)."""
    topic = new_topic(broker.bootstrap, 2)
    producer = Producer(producer_config(broker.bootstrap, "test", 1_048_576, linger_ms=5))
    attempts = []

    async def step() -> None:   # the first attempt names a partition the topic does not have
        attempts.append(1)   # counted first: librdkafka refuses it in send() once it knows the topic's partitions,
        batch = producer.batch()   # else in the delivery report
        batch.send(topic, b"v", b"k", 5 if len(attempts) == 1 else 1)
        await batch.delivered()

    caplog.set_level(logging.WARNING, logger="streams.outputs")
    try:
        await asyncio.wait_for(retrying("sending", step, backoff=Backoff(first=0.05)), 30)
    finally:
        await producer.stop(within=5)
    assert len(attempts) == 2
    assert "sending failed (DeliveryFailed); retrying" in caplog.text
