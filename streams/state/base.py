"""State kept per input partition and restored from a topic when the partition is assigned.

Direct ingest (streams/ingest.py) owns the same partition numbers of every input topic (range
assignor), and keeps the state of exactly those partitions: subject secrets, retention timers,
legal holds. Each kind lives in a topic partitioned like the input; a worker that is assigned a
partition reads that partition of the topic from the beginning before it processes any record
of it, and drops the state when the partition is revoked.

The embedded broker reports the first offset of the last batch as the log end
(``../shared/BROKER-NOTES.md``), so the reported end is only a lower bound: restore reads on until
two fetches in a row come back empty *and* the position has passed the reported end. Updates
written in many-record batches are therefore not lost (tests/streams/test_retention_restart.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka import aiokafka_options
from streams.outputs import retrying
from streams.producer import Producer, producer_config

log = logging.getLogger(__name__)


async def read_to_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition],
                      load: Callable[[int, list[Any]], None]) -> int:
    """Read ``tps`` from the beginning to their end (as the module docstring says) into ``load``;
    the number of records read. The consumer is left assigned there, ready to read on."""
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    count = empty = 0
    while True:
        batch = await consumer.getmany(timeout_ms=250, max_records=50_000)
        empty = 0 if batch else empty + 1
        for tp, records in batch.items():
            load(tp.partition, records)
            count += len(records)
        if empty >= 2 and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
            return count


class PartitionedState:
    """Base of a store restored per partition from ``topic``; subclasses say what a record does."""

    what = "state"

    def __init__(self, bootstrap: str, topic: str, write: bool = True) -> None:
        self.bootstrap, self.topic, self.write = bootstrap, topic, write
        self.owned: set[int] = set()
        self.producer: Producer | None = None
        self._pending: list[tuple[int, bytes, bytes | None]] = []

    async def start(self) -> None:
        if self.write:
            # librdkafka, like the outputs (streams/producer.py): one request in flight, so a retry
            # cannot reorder a key's updates
            self.producer = Producer(producer_config(self.bootstrap, "lethe-state", 1_048_576, linger_ms=2))

    async def stop(self) -> None:
        if self.producer is not None and await self.producer.stop(within=1.0):
            log.warning("stopping the %s producer with updates the broker has not taken; their inputs are not "
                        "committed and will be processed again", self.what)

    # subclasses ------------------------------------------------------------------------------
    def load(self, partition: int, records: list[Any]) -> None:
        raise NotImplementedError

    def drop(self, partition: int) -> None:
        raise NotImplementedError

    def restored(self, partitions: list[int]) -> None:
        """Called once the partitions are loaded."""

    async def release(self, partitions: set[int], within: float | None = None) -> None:
        """Write what the state holds back for ``partitions`` before they go (revoked, or the worker
        stops: then a write that takes longer than ``within`` seconds is given up). Most kinds hold
        nothing back: a batch writes their updates before its outputs."""

    # -----------------------------------------------------------------------------------------
    async def restore(self, partitions: set[int]) -> None:
        missing = sorted(partitions - self.owned)
        if not missing:
            return
        consumer = AIOKafkaConsumer(**aiokafka_options(), bootstrap_servers=self.bootstrap, group_id=None,
                                    client_id="lethe-restore",
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            count = await read_to_end(consumer, [TopicPartition(self.topic, p) for p in missing], self.load)
        finally:
            await consumer.stop()
        self.owned.update(missing)
        for p in missing:
            self.load(p, [])   # a partition with no records yet is still owned
        self.restored(missing)
        log.info("restored %s of partitions %s (%d records read)", self.what, missing, count)

    def forget(self, partitions: set[int]) -> None:
        """Drop the partitions' state, also a part-loaded one, and any of their writes not yet sent."""
        for p in partitions:
            self.drop(p)
        self.owned -= partitions
        self._pending = [entry for entry in self._pending if entry[0] not in partitions]

    def stage(self, partition: int, key: bytes, value: bytes | None) -> None:
        self._pending.append((partition, key, value))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Write every staged update to the topic and wait until the broker has them all."""
        if not self._pending:
            return
        producer = self.producer
        assert producer is not None
        pending = self._pending

        async def write() -> None:   # nothing is committed meanwhile: retry every one
            batch = producer.batch()
            for partition, key, value in pending:
                batch.send(self.topic, value, key, partition)
            await batch.delivered()

        await retrying(f"writing {self.what}", write)
        self._pending = []   # only once the broker has them all
