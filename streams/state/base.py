"""State kept per input partition and restored from a topic when the partition is assigned.

Direct ingest (streams/ingest.py) owns the same partition numbers of every input topic (range
assignor), and keeps the state of exactly those partitions: subject secrets, retention timers,
legal holds, rights requests, consent, the sharing ledger. Each kind lives in a topic partitioned
like the input; a worker that is assigned a partition reads that partition of the topic before it
processes any record of it.

The embedded broker reports the first offset of the last batch as the log end
(``../shared/BROKER-NOTES.md``), so the reported end is only a lower bound: restore reads on until
two fetches in a row come back empty *and* the position has passed the reported end. Updates
written in many-record batches are therefore not lost (tests/streams/test_retention_restart.py).

Restore only what a rebalance moved
-----------------------------------
With the eager range assignor every rebalance revokes every partition, also those the worker gets
back at once. So a revoked partition is not dropped: once :meth:`PartitionedState.release` has
written what the kind held back, it is set aside, *dormant* (:meth:`~PartitionedState.set_aside`).
At the next assignment a dormant partition assigned again is *caught up*: its topic partition is
read from the position this worker last knew to the end (the same :func:`read_to_end` loop); one
not assigned again is dropped. ``lethe_state_records_restored_total{kind,how}`` counts the records
read either way (``how="full"`` from the beginning, ``"catch_up"``).

The known position is where this worker's last read of the partition stopped (its restore or its
last catch-up): the consumer position after :func:`read_to_end`. The worker's own writes since are
read again on catch-up. That is the simplest correct choice: every kind's ``load`` applies records
in log order and the last value per key wins (secrets, consent, timers, the sharing ledger: per
key; requests: each write is the request's whole state; legal holds: per hold id, a place or a
release), so applying a record the state already reflects changes nothing, and applying everything
after the known position over the state at that position gives what a read from the beginning
gives, also when another worker owned the partition in between and wrote to it. Advancing the
position to the producer's offsets after each flush would skip our own writes, but it would also
skip any record another writer put between them (a previous owner still flushing after our
restore); the known position needs no assumption about who writes.

Kept state must never hold what the topic does not:

* A partition whose release failed, or that still has staged or held-back writes after it
  (:meth:`~PartitionedState.unwritten`), is forgotten instead: a full restore next time.
* A kind's memory of a partition holds only what that partition's records say (a secret found in
  another partition is not copied; timers parked by a legal hold are still pending in the topic
  and go back to the index on catch-up, where the next tick decides again, as after a restore).
* Dormant for at most ``DORMANT_MAX_S`` (one hour; in practice one rebalance, seconds), well within
  the changelogs' ``delete.retention.ms`` (one day): a tombstone another owner wrote meanwhile is
  still there to read. A partition whose log start moved past the known position (time retention)
  is read from the beginning.
* Nothing acts on dormant state: ingest pauses the background steps (timers, request deadlines)
  while any partition is dormant, and a batch first brings every assigned partition up to date.

The sessions' banner choices (streams/state/sessions.py) are held whole by every worker and follow
their topic; they have no known position here, so setting them aside forgets the partition as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka import aiokafka_options
from streams.outputs import retrying
from streams.producer import Producer, producer_config

log = logging.getLogger(__name__)


async def read_to_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition],
                      load: Callable[[int, list[Any]], None],
                      start: Mapping[TopicPartition, int] | None = None) -> int:
    """Read ``tps`` from the beginning (or from ``start``'s offset, for those it names) to their end
    (as the module docstring says) into ``load``; the number of records read. The consumer is left
    assigned there, ready to read on."""
    start = start or {}
    # asked first: once a fetch from a seeked position is waiting on the broker, this waits a second
    ends = await consumer.end_offsets(tps)
    consumer.assign(tps)
    fresh = [tp for tp in tps if tp not in start]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    for tp, offset in start.items():
        consumer.seek(tp, offset)
    count = empty = 0
    while True:
        batch = await consumer.getmany(timeout_ms=250, max_records=50_000)
        empty = 0 if batch else empty + 1
        for tp, records in batch.items():
            load(tp.partition, records)
            count += len(records)
        if empty >= 2 and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
            return count


@dataclass
class Restored:
    """What one :meth:`PartitionedState.restore` read: partitions from the beginning and caught up."""

    full: list[int] = field(default_factory=list)
    caught_up: list[int] = field(default_factory=list)
    full_records: int = 0
    catch_up_records: int = 0

    def describe(self) -> str:
        parts = []
        if self.full:
            parts.append(f"{self.full} from the beginning ({self.full_records} records read)")
        if self.caught_up:
            parts.append(f"{self.caught_up} caught up from their last known position "
                         f"({self.catch_up_records} records read)")
        return "; ".join(parts)


class PartitionedState:
    """Base of a store restored per partition from ``topic``; subclasses say what a record does."""

    what = "state"
    DORMANT_MAX_S = 3600.0   # a dormant partition older than this is read from the beginning (module docstring)

    def __init__(self, bootstrap: str, topic: str, write: bool = True) -> None:
        self.bootstrap, self.topic, self.write = bootstrap, topic, write
        self.owned: set[int] = set()
        self.dormant: dict[int, float] = {}   # revoked, state kept: partition -> when (time.monotonic)
        self.known: dict[int, int] = {}       # owned or dormant partition -> topic position read up to
        self.producer: Producer | None = None
        self._pending: list[tuple[int, bytes, bytes | None]] = []
        # held while the list is changed or taken: a batch processed in a thread stages while a flush of the
        # previous batch takes what is staged (streams/ingest.py); an append must not land in a taken list
        self._staging = threading.Lock()
        self._writing = asyncio.Lock()

    @property
    def kind(self) -> str:
        """The ``kind`` label of this state's metrics."""
        return self.what.replace(" ", "_")

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
        """Apply ``records`` in log order, the last value per key winning (catch-up relies on it)."""
        raise NotImplementedError

    def drop(self, partition: int) -> None:
        raise NotImplementedError

    def restored(self, partitions: list[int]) -> None:
        """Called once the partitions are loaded (from the beginning or caught up)."""

    async def release(self, partitions: set[int], within: float | None = None) -> None:
        """Write what the state holds back for ``partitions`` before they go (revoked, or the worker
        stops: then a write that takes longer than ``within`` seconds is given up). Most kinds hold
        nothing back: a batch writes their updates before its outputs."""

    def unwritten(self, partitions: set[int]) -> set[int]:
        """Those of ``partitions`` whose state holds a change the topic does not have yet."""
        return {entry[0] for entry in self._pending if entry[0] in partitions}

    # -----------------------------------------------------------------------------------------
    async def restore(self, partitions: set[int]) -> Restored:
        """Load the partitions not owned yet: dormant ones caught up, the others from the beginning."""
        missing = sorted(partitions - self.owned)
        done = Restored()
        if not missing:
            return done
        now = time.monotonic()
        for p in missing:   # too long aside, or no position known: from the beginning
            since = self.dormant.get(p)
            if since is not None and (now - since > self.DORMANT_MAX_S or p not in self.known):
                self.forget({p})
        tps = {p: TopicPartition(self.topic, p) for p in missing}
        counts = dict.fromkeys(missing, 0)

        def load(partition: int, records: list[Any]) -> None:
            counts[partition] += len(records)
            self.load(partition, records)

        consumer = AIOKafkaConsumer(**aiokafka_options(), bootstrap_servers=self.bootstrap, group_id=None,
                                    client_id="lethe-restore",
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            start = {tps[p]: self.known[p] for p in missing if p in self.dormant}
            if start:
                firsts = await consumer.beginning_offsets(list(start))
                for tp, first in firsts.items():
                    if start[tp] < first:   # records since were deleted (time retention): not a catch-up
                        self.forget({tp.partition})
                        del start[tp]
            await read_to_end(consumer, list(tps.values()), load, start)
            known = {p: await consumer.position(tp) for p, tp in tps.items()}
        finally:
            await consumer.stop()
        for p in missing:
            if p in self.dormant:
                done.caught_up.append(p)
                done.catch_up_records += counts[p]
            else:
                done.full.append(p)
                done.full_records += counts[p]
            self.load(p, [])   # a partition with no records yet is still owned
        self.known.update(known)
        self.owned.update(missing)
        for p in missing:
            self.dormant.pop(p, None)
        self.restored(missing)
        log.info("restored %s of partitions %s: %s", self.what, missing, done.describe())
        return done

    def set_aside(self, partitions: set[int]) -> set[int]:
        """Revoked (after :meth:`release`): keep the partitions' state dormant, to catch up if they come
        back (module docstring); one with unwritten changes, or no known position, is forgotten.
        Returns the partitions kept."""
        mine = partitions & self.owned
        unsafe = self.unwritten(mine) | {p for p in mine if p not in self.known}
        self.forget(unsafe | (partitions - mine))
        kept = mine - unsafe
        now = time.monotonic()
        for p in kept:
            self.dormant[p] = now
        self.owned -= kept
        return kept

    def forget(self, partitions: set[int]) -> None:
        """Drop the partitions' state, also a part-loaded or dormant one, and any of their writes not yet sent."""
        for p in partitions:
            self.drop(p)
            self.dormant.pop(p, None)
            self.known.pop(p, None)
        self.owned -= partitions
        with self._staging:
            self._pending = [entry for entry in self._pending if entry[0] not in partitions]

    def stage(self, partition: int, key: bytes, value: bytes | None) -> None:
        with self._staging:
            self._pending.append((partition, key, value))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Write every staged update to the topic and wait until the broker has them all.

        The topics of one input batch write their state together (streams/handler.py
        ``write_staged``), so two flushes may overlap: the second waits for the first and then
        writes what is left, if anything; no update is written twice or dropped. An update staged
        while a flush is in flight (the next batch is processed meanwhile: streams/ingest.py) is
        written by the next flush.
        """
        async with self._writing:
            if not self._pending:
                return
            producer = self.producer
            assert producer is not None
            # taken now: what the next batch stages while these are in flight is written by the next flush
            with self._staging:
                pending, self._pending = self._pending, []

            async def write() -> None:   # nothing is committed meanwhile: retry every one
                batch = producer.batch()
                for partition, key, value in pending:
                    batch.send(self.topic, value, key, partition)
                await batch.delivered()

            try:
                await retrying(f"writing {self.what}", write)
            except BaseException:   # not all of them are written: they stay first in line
                with self._staging:
                    self._pending = pending + self._pending
                raise
