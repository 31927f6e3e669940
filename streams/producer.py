"""The worker's Kafka producer: librdkafka (confluent-kafka), awaited a batch at a time (issue 14).

A worker writes about five records per order event (the anonymized copy, partner topics, the
sharing ledger, timer changelogs). Through aiokafka each record cost tens of microseconds of
Python (send, accumulator, partitioner, encoding); librdkafka does that work in C, off the event
loop. ``bench/README.md`` ("Issue 14") has the figures.

How a batch is awaited: every record is handed to ``produce()`` with one delivery callback per
batch; a thread of this producer serves librdkafka's callbacks (``poll``) all the time, counts the
batch's reports and wakes the event loop once, when the last one is in. So the loop never blocks,
one wake-up costs the same for 1 or 10,000 records, a batch waits for its own records only (not
for another batch's, as ``flush()`` would), and the wait can be cancelled when the worker stops.
librdkafka reports every record exactly once, delivered or failed (at the latest after
``message.timeout.ms``), so the wait always ends.

The settings keep what aiokafka did: acks=all, no idempotence (the embedded broker refuses
InitProducerId), linger 5 ms, Java-compatible murmur2 partitioning of keyed records (librdkafka's
default partitioner is not: co-partitioning with the worker's state depends on it), one request
in flight per broker so that a retry cannot reorder a partition's records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka import Producer as RdKafkaProducer

from streams.exceptions import DeliveryFailed, RecordTooLarge
from streams.kafka import librdkafka_options

log = logging.getLogger(__name__)
client_log = logging.getLogger("confluent_kafka.producer")   # off unless --verbose (streams/logs.py)

DELIVERY_TIMEOUT_MS = 30_000   # per record, librdkafka's own retries included; then the batch is retried

Headers = list[tuple[str, bytes]] | None


def producer_config(bootstrap: str, client_id: str, max_request_size: int, linger_ms: int) -> dict[str, Any]:
    """librdkafka settings of every producer a worker runs (docs/settings.md lists them)."""
    return {
        **librdkafka_options(),
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": False,
        "max.in.flight.requests.per.connection": 1,
        "partitioner": "murmur2_random",   # = aiokafka's and the Java client's for keyed records
        "linger.ms": linger_ms,
        "message.max.bytes": max_request_size,
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        "request.timeout.ms": DELIVERY_TIMEOUT_MS,
        "logger": client_log,
        "error_cb": _client_error,
    }


def _client_error(error: KafkaError) -> None:
    # librdkafka's errors name brokers and states, never a record; still off by default like every
    # client library's lines (while a broker is away there is one per reconnect)
    client_log.warning("%s: %s", error.name(), error.str())


class Producer:
    """A librdkafka producer with a thread serving its delivery reports; batches via :meth:`batch`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.client = RdKafkaProducer(config)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=_serve, args=(self.client, self._stopping),
                                        name=f"{config.get('client.id')}-deliveries", daemon=True)
        self._thread.start()
        weakref.finalize(self, self._stopping.set)   # one never stopped (a test's) does not poll forever

    def batch(self) -> Deliveries:
        """A new batch of records to send and then await together."""
        return Deliveries(self.client, asyncio.get_running_loop())

    async def stop(self, within: float) -> int:
        """Wait up to ``within`` seconds for what is in flight; return how many records the broker
        did not take (those are dropped here: their inputs are not committed)."""
        left: int = await asyncio.get_running_loop().run_in_executor(None, self.client.flush, within)
        if left:
            self.client.purge()
        self._stopping.set()
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self.client.poll(0)   # reports of the purged records: their batches fail
        return left


def _serve(client: RdKafkaProducer, stopping: threading.Event) -> None:
    """The delivery thread: serve librdkafka's callbacks until the producer stops."""
    while not stopping.is_set():
        client.poll(0.1)


class Deliveries:
    """One batch of records on their way to the broker: :meth:`send` each, then :meth:`delivered`.

    :meth:`send` raises :class:`RecordTooLarge` for a record above ``message.max.bytes`` (nothing
    is sent) and :class:`DeliveryFailed` when librdkafka's queue is full. A record sent with a
    ``tag`` (a dead letter) may fail alone: its failure is returned by :meth:`delivered` for the
    caller to deal with; any other record's failure fails the batch.
    """

    __slots__ = ("_acked", "_failed", "_future", "_lock", "_loop", "_produce", "_report", "_sealed", "_sent")

    def __init__(self, client: RdKafkaProducer, loop: asyncio.AbstractEventLoop) -> None:
        self._produce = client.produce
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._lock = threading.Lock()
        self._sent = self._acked = 0
        self._sealed = False
        self._failed: list[tuple[Any, DeliveryFailed]] = []
        self._report = partial(self._reported, None)   # one callback object for the untagged records

    def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
             headers: Headers = None, tag: Any = None) -> None:
        report = self._report if tag is None else partial(self._reported, tag)
        headers_: Any = headers   # its stubs want list[tuple[str, str | bytes | None]]; a list is invariant
        try:
            if partition is None:
                self._produce(topic, value, key, on_delivery=report, headers=headers_)
            else:
                self._produce(topic, value, key, partition, on_delivery=report, headers=headers_)
        except BufferError:
            raise DeliveryFailed(f"{topic}: the producer's queue is full") from None
        except KafkaException as exc:
            raise failure(topic, exc.args[0]) from None
        self._sent += 1

    def _reported(self, tag: Any, error: KafkaError | None, message: Message) -> None:
        """In the producer's thread: count the report and wake the loop after the batch's last."""
        if error is not None:
            self._failed.append((tag, failure(message.topic() or "?", error)))
        with self._lock:
            self._acked += 1
            done = self._sealed and self._acked == self._sent
        if done:
            with contextlib.suppress(RuntimeError):   # a closed loop: nobody waits any more
                self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    async def delivered(self) -> list[tuple[Any, DeliveryFailed]]:
        """Wait until the broker has taken or refused every record; raise the first failure of an
        untagged record, else return the failures of tagged ones (an empty list: all delivered)."""
        with self._lock:
            self._sealed = True
            done = self._acked == self._sent
        if not done:
            await self._future
        tagged = []
        for tag, error in self._failed:
            if tag is None:
                raise error
            tagged.append((tag, error))
        return tagged


def failure(topic: str, error: KafkaError) -> DeliveryFailed:
    """The error for a record librdkafka refused (its code's name and text; never the record)."""
    kind = RecordTooLarge if error.code() == KafkaError.MSG_SIZE_TOO_LARGE else DeliveryFailed
    return kind(f"{topic}: {error.name()} ({error.str()})")


__all__ = ["Deliveries", "Producer", "producer_config"]
