"""Everything a worker or store agent writes to Kafka goes through here, with one retry rule.

Lethe is at-least-once: an input offset is committed only after everything it caused is on the
broker. So a write that fails is not dropped and not given up on: it is retried with exponential
backoff (0.5 s doubling to 30 s) until the broker takes it, while nothing is committed. The same
:class:`Backoff` paces the blocking store agent (database and ack retries).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from mode import Service

from processors.decode import encoding_of
from processors.errors import InvalidRecord
from processors.records import dlq_headers as dlq_envelope
from streams.exceptions import DeliveryFailed
from streams.producer import Producer, producer_config

log = logging.getLogger(__name__)

T = TypeVar("T")

# (topic, value, key, partition or None, headers or None)
Outgoing = tuple[str, bytes | None, bytes | None, int | None, list[tuple[str, bytes]] | None]


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: ``first``, doubling up to ``cap``, forever."""

    first: float = 0.5
    cap: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.cap)


BACKOFF = Backoff()


async def retrying(what: str, step: Callable[[], Awaitable[T]],
                   errors: tuple[type[BaseException], ...] = (KafkaError, DeliveryFailed),
                   backoff: Backoff = BACKOFF) -> T:
    """Run ``step`` until it succeeds; an error in ``errors`` is logged by type and retried after a pause."""
    for delay in backoff.delays():
        try:
            return await step()
        except errors as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def retrying_blocking(what: str, step: Callable[[], T | None], stop: Callable[[], bool],
                      on_failure: Callable[[int], None] = lambda attempt: None,
                      backoff: Backoff = BACKOFF) -> T | None:
    """The blocking twin of :func:`retrying`: ``step`` returns None while it has not succeeded.

    Gives up (returns None) only when ``stop()`` says the process is stopping; ``on_failure`` is
    told each failed attempt's number (1 for the first), for reporting and liveness.
    """
    for attempt, delay in enumerate(backoff.delays(), start=1):
        result = step()
        if result is not None:
            return result
        on_failure(attempt)
        if stop():
            return None
        log.warning("%s failed; retrying in %.1fs", what, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")


async def publish_all(producer: Callable[[], Producer], out: list[Outgoing], what: str) -> None:
    """Send every record and wait until the broker has them all (retrying as above)."""
    if not out:
        return

    async def send() -> None:
        batch = producer().batch()
        for topic, value, key, partition, headers in out:
            batch.send(topic, value, key, partition, headers)
        await batch.delivered()

    await retrying(f"publishing {what}", send)


def dlq_headers(exc: InvalidRecord, message: Any) -> list[tuple[str, bytes]]:
    """The DLQ headers of an input message (processors/records.py builds them; never a value)."""
    return dlq_envelope(source_topic=message.topic, partition=message.partition, offset=message.offset,
                        encoding=encoding_of(message.value), reason=exc.reason, rule=exc.rule, path=exc.path,
                        failed_at=datetime.now(UTC))


class OutputProducer(Service):
    """The worker's producer for every output topic and the DLQ (librdkafka, acks=all: streams/producer.py)."""

    def __init__(self, bootstrap: str, max_request_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.max_request_size = max_request_size
        self.producer: Producer | None = None

    def get(self) -> Producer:
        if self.producer is None:
            raise RuntimeError("the output producer is not started")
        return self.producer

    async def on_start(self) -> None:
        self.producer = Producer(producer_config(self.bootstrap, "lethe-output", self.max_request_size, linger_ms=5))

    async def on_stop(self) -> None:
        """What is in flight gets a few seconds; whatever it belongs to was not committed, so it is
        produced again after a restart (at-least-once)."""
        if self.producer is not None and await self.producer.stop(within=2.0):
            log.warning("stopping the output producer with records the broker has not taken; their inputs "
                        "are not committed and will be processed again")
