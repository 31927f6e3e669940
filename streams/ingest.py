"""Batch ingest, the one runtime: every input topic consumed in whole batches by one plain consumer.

One aiokafka consumer in the group ``<app id>.ingest`` takes ``getmany`` batches of every input
topic (orders, logs, consent, legal holds, requests, acks); each topic's batch goes to its
handler (streams/handler.py), which processes it; what every topic's batch left to write is then
written together, in three steps of one broker round trip each (``write_staged``: an erase
request waits for no order's writes in turn), and the offsets are committed once all of it is acked.
Faust's per-record stream machinery cost more than all of Lethe's processing (bench/README.md).

Per-subject state stays partitioned with the input: the range assignor gives a worker the same
partition numbers of every input topic, and the worker holds the state of exactly those
partitions (streams/state/), restored all or nothing when they are assigned, before any of their
records is processed. A revoked partition's state is written out and kept dormant until the next
assignment: caught up from where this worker last read it if the partition is assigned again,
dropped if not (streams/state/base.py, "Restore only what a rebalance moved").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError
from mode import Service

from streams.handler import BatchHandler, write_staged
from streams.kafka import aiokafka_options
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState, Restored

log = logging.getLogger(__name__)

STOP_WAIT_S = 2.0   # what stopping waits for each client; SIGTERM must end a worker within seconds
# how long the consume loop may keep the lock across batches while another task (the timers' tick, a
# request step) waits for it; a rebalance or a stop never waits for more than the batch in flight
HOLD_S = 0.5
FETCH_GRACE_S = 0.25   # beyond the batch wait, what a getmany may take while a batch is in flight (``_fetch``)


def _waiting(lock: asyncio.Lock) -> bool:
    """Whether a task waits to acquire ``lock``."""
    waiters = lock._waiters   # asyncio.Lock has no public way to ask
    return waiters is not None and any(not w.cancelled() for w in waiters)


class DirectIngest(Service):
    def __init__(self, settings: Settings, bootstrap: str, handlers: dict[str, Any],
                 states: Sequence[PartitionedState], metrics: Metrics,
                 background: Sequence[Callable[[DirectIngest], Awaitable[None]]] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings, self.bootstrap, self.handlers = settings, bootstrap, handlers
        self.states, self.metrics, self.background = list(states), metrics, list(background)
        self.consumer: AIOKafkaConsumer | None = None
        self.lock = asyncio.Lock()
        # the consume loop's hold of the lock: from a batch's processing to its commit, across the
        # processing of the next one while its writes are in flight (``_consume``)
        self.holding = False
        self.held_since = 0.0
        self.in_flight: asyncio.Future[None] | None = None
        self.flight_overlaps = False   # whether the batch in flight may have the next one processed beside it
        self.urgent = 0   # rebalance listeners waiting for the lock: the batch in flight is ended at once

    async def restore(self, partitions: set[int]) -> None:
        """Restore every kind of state of the partitions, all or nothing (also a catch-up of dormant ones).

        All at once; timers fire only under the lock, so never before their holds are restored.
        If one restore fails, what the others loaded is dropped too (timers without their holds
        must not fire), dormant state included (it may be half caught up: restored from the
        beginning next time), and the error goes up: the worker stops rather than act on half a state.
        """
        before = [set(state.owned) for state in self.states]
        results = await asyncio.gather(*(state.restore(partitions) for state in self.states),
                                       return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            for state, owned in zip(self.states, before, strict=True):
                state.forget(partitions - owned)
            log.error("restoring the state of partitions %s failed (%s)", sorted(partitions),
                      type(failures[0]).__name__)
            raise failures[0]
        restored = self.metrics.state_records_restored
        for state, result in zip(self.states, results, strict=True):
            if isinstance(result, Restored) and (result.full or result.caught_up):
                restored.labels(state.kind, "full").inc(result.full_records)
                restored.labels(state.kind, "catch_up").inc(result.catch_up_records)

    @contextlib.asynccontextmanager
    async def urgently(self) -> AsyncIterator[None]:
        """The lock, for a rebalance listener: the consume loop ends its batch in flight at once."""
        self.urgent += 1
        try:
            async with self.lock:
                yield
        finally:
            self.urgent -= 1

    @property
    def rebalancing(self) -> bool:
        """Between a revoke and the next assignment: some state is dormant, and nothing may act on it."""
        return any(state.dormant for state in self.states)

    def report_owned(self) -> None:
        owned = set.intersection(*(state.owned for state in self.states)) if self.states else set()
        self.metrics.partitions_owned.set(len(owned))

    async def release(self, partitions: set[int], within: float | None = None) -> None:
        """Write what the states hold back for the partitions (the sharing ledger's held entries)."""
        for state in self.states:
            await state.release(partitions & state.owned, within)

    async def set_aside(self, partitions: set[int]) -> None:
        """Revoked: write what the states hold back for the partitions, then keep their state dormant.

        No time limit: the write is retried while the broker is away. A kind whose write fails, or
        that still has an unwritten change of a partition, forgets it (a full restore if it comes back).
        """
        for state in self.states:
            try:
                await state.release(partitions & state.owned)
            except Exception as exc:
                log.warning("writing the held-back %s of partitions %s failed (%s); their state is dropped",
                            state.what, sorted(partitions), type(exc).__name__)
                state.forget(partitions)
            else:
                state.set_aside(partitions)

    def forget_dormant(self, assigned: set[int]) -> None:
        """Drop the dormant state of partitions not ``assigned`` again."""
        for state in self.states:
            state.forget(set(state.dormant) - assigned)

    async def on_start(self) -> None:
        for state in self.states:
            await state.start()
        session_ms = int(self.settings.session_timeout_s * 1000)
        self.consumer = AIOKafkaConsumer(
            **aiokafka_options(),
            bootstrap_servers=self.bootstrap,
            group_id=f"{self.settings.app_id}.ingest",
            client_id="lethe-ingest",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(session_ms // 3, 500),
            max_poll_interval_ms=300_000,
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_partition_fetch_bytes=8 * 1_048_576,
            fetch_max_bytes=64 * 1_048_576,
        )
        self.consumer.subscribe(list(self.handlers), listener=_Rebalance(self))
        await self.consumer.start()

    async def on_started(self) -> None:
        self.metrics.ready_reason = "waiting for a partition assignment"
        self.add_future(self._heartbeat())
        self.add_future(self._consume())
        self.add_future(self._report_lag())
        for task in self.background:
            self.add_future(task(self))

    async def on_stop(self) -> None:
        """Stop within seconds, also while the broker is away (issue 10).

        The batch in hand gets ``STOP_WAIT_S`` to be published and committed; one that is still
        waiting for the broker then is left uncommitted, so it is processed again (at-least-once).
        """
        locked = False
        if self.consumer is not None:
            try:
                await asyncio.wait_for(self.lock.acquire(), STOP_WAIT_S)
                locked = True
            except TimeoutError:
                log.warning("stopping before the batch in hand was published; it is not committed and will be "
                            "processed again")
        try:
            if locked:   # while the partitions are still ours: a new owner restores what this writes
                try:
                    await self.release(set().union(*(state.owned for state in self.states)), STOP_WAIT_S)
                except Exception as exc:   # the stop goes on: what was held back is lost as in a crash
                    log.warning("writing the held-back state failed (%s)", type(exc).__name__)
            if self.consumer is not None:
                await _stop_within(self.consumer.stop(), "the ingest consumer")
        finally:
            if locked:
                self.lock.release()
            for state in self.states:
                await _stop_within(state.stop(), f"the {state.what} producer")

    async def _consume(self) -> None:
        """Take batches and process them; a batch's writes overlap the processing of the next.

        The lock is held from a batch's processing until its writes and commit are done
        (:meth:`_settle`). While they are in flight, the next batch is fetched and processed, under
        the same hold, when it is safe to (:meth:`_may_overlap`): in a thread, so that the event loop
        goes on with the writes' three round trips meanwhile (the processing holds the GIL but for
        the loop's short turns; librdkafka sends from threads of its own). The next batch's writes
        start only once the previous batch's are acked and committed, so every write keeps its order.
        Nothing else that holds the lock runs meanwhile (timers, requests, rebalances wait for it).
        """
        assert self.consumer is not None
        consumer, handlers = self.consumer, self.handlers
        within_ms = int(self.settings.batch_within_s * 1000)
        try:
            while not self.should_stop:
                batch = await self._fetch(consumer, within_ms)
                if not batch or self._yields():
                    await self._settle()   # nothing new, or somebody waits for the lock: end the batch in flight
                if not batch:
                    continue
                if not self.holding:
                    await self.lock.acquire()
                    self.holding, self.held_since = True, time.monotonic()
                try:
                    if self.should_stop:   # stopping: the fetched batch is not processed (nor committed)
                        break
                    await self._take(consumer, handlers, batch)
                except BaseException:
                    await self._settle()
                    raise
        finally:
            await self._settle()

    async def _fetch(self, consumer: AIOKafkaConsumer, within_ms: int) -> dict[TopicPartition, list[Any]]:
        """The next batch (empty if none came within ``within_ms``).

        While the group rebalances, ``getmany`` waits for the new assignment with no time limit, and
        the rebalance listener waits for the lock: with a batch in flight (the lock held) it is given
        a turn and a little more, and then the loop goes on without a batch and lets the lock go.
        A ``getmany`` cancelled there has taken no record (it returns as soon as it takes one).
        """
        fetching = consumer.getmany(timeout_ms=within_ms, max_records=self.settings.batch_size)
        batch: dict[TopicPartition, list[Any]] = {}
        if not self.holding:
            batch = await fetching
        else:
            with contextlib.suppress(TimeoutError):
                batch = await asyncio.wait_for(fetching, within_ms / 1000 + FETCH_GRACE_S)
        return batch

    async def _take(self, consumer: AIOKafkaConsumer, handlers: dict[str, Any],
                    batch: dict[TopicPartition, list[Any]]) -> None:
        """Process one fetched batch under the lock and start its writes (after the previous batch's)."""
        # fetched before a revoke that came meanwhile: not ours to process (nor to commit) any more
        assignment = consumer.assignment()
        batch = {tp: records for tp, records in batch.items() if tp in assignment}
        assigned = {tp.partition for tp in assignment}
        if not batch:
            await self._settle()
            return
        may_overlap = self._may_overlap(assigned, {tp.topic for tp in batch})
        overlap = may_overlap and self.flight_overlaps
        if not overlap:
            await self._settle(release=False)
        # aiokafka may deliver records of a new assignment before its listener has run: do what it
        # would, for every assigned partition (the batch must not look at any dormant state)
        if self.rebalancing:
            self.forget_dormant(assigned)
        if any(assigned - state.owned for state in self.states):
            await self.restore(assigned)
        by_topic: dict[str, list[Any]] = {}
        offsets = {}
        for tp, records in batch.items():
            by_topic.setdefault(tp.topic, []).extend(records)
            offsets[tp] = records[-1].offset + 1
        if overlap and self.in_flight is not None:   # processed in a thread while the loop serves the writes
            staged = [await handlers[topic].stage(records, in_thread=True) for topic, records in by_topic.items()]
        else:
            staged = [await handlers[topic].stage(records) for topic, records in by_topic.items()]
        await self._settle(release=False)   # the previous batch's writes and commit come first
        self.in_flight = asyncio.ensure_future(self._write(consumer, staged, offsets))
        self.flight_overlaps = may_overlap

    def _may_overlap(self, assigned: set[int], topics: set[str]) -> bool:
        """Whether a batch may be processed while the previous one's writes are in flight (both must
        pass): only in a steady state (no partition moving) and for topics whose batches change no state
        that must be written after their outputs (orders, logs and every source: ``BatchHandler``; a
        request, consent, hold or ack batch waits for the previous writes, and the next batch for its
        own: its request states are written after its outputs, and its acting must not run beside a
        batch processed in a thread)."""
        return (not self.rebalancing and not any(assigned - state.owned for state in self.states)
                and all(isinstance(self.handlers[topic], BatchHandler) for topic in topics))

    def _yields(self) -> bool:
        """Whether the batch in flight is ended before the next is taken: the worker stops, a rebalance
        waits, or another task (timers, requests) has waited and the lock was held for ``HOLD_S``."""
        if not self.holding:
            return False
        return (self.should_stop or self.urgent > 0
                or (_waiting(self.lock) and time.monotonic() - self.held_since >= HOLD_S))

    async def _write(self, consumer: AIOKafkaConsumer, staged: list[Any], offsets: dict[TopicPartition, int]) -> None:
        # every topic processed first, then their writes made together (streams/handler.py)
        await write_staged(staged)
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # the partitions moved on; their new owner repeats this batch (at-least-once)
            log.warning("offset commit failed (%s); the batch will be repeated", type(exc).__name__)

    async def _settle(self, release: bool = True) -> None:
        """Wait for the batch in flight to be written and committed (its failure is raised here);
        with ``release``, let the lock go if this loop holds it."""
        flight, self.in_flight = self.in_flight, None
        try:
            if flight is not None:
                await flight
        finally:
            if release and self.holding:
                self.holding = False
                self.lock.release()

    async def _heartbeat(self) -> None:
        while not self.should_stop:
            self.metrics.beat()
            await asyncio.sleep(1.0)

    async def _report_lag(self) -> None:
        assert self.consumer is not None
        while not self.should_stop:
            await asyncio.sleep(5.0)
            for tp in self.consumer.assignment():
                handler = self.handlers.get(tp.topic)
                highwater = self.consumer.highwater(tp)
                if handler is None or highwater is None:
                    continue
                position = handler.positions.get(tp.partition, 0)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))


async def _stop_within(stopping: Awaitable[None], what: str) -> None:
    """Stop a client, but not for longer than ``STOP_WAIT_S``, and never fail the rest of the stop."""
    try:
        await asyncio.wait_for(stopping, STOP_WAIT_S)
    except TimeoutError:
        log.warning("%s did not stop within %.0fs (is the broker away?); leaving it", what, STOP_WAIT_S)
    except KafkaError as exc:
        log.warning("%s stopped with %s", what, type(exc).__name__)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, ingest: DirectIngest) -> None:
        self.ingest = ingest

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # wait for the batch in hand to be produced and committed before the partitions go
        async with self.ingest.urgently():
            partitions = {tp.partition for tp in revoked}
            await self.ingest.set_aside(partitions)   # written before the new owner restores them
            lag = self.ingest.metrics.consumer_lag
            for tp in revoked:   # a partition it no longer owns must not keep reporting its last lag
                with contextlib.suppress(KeyError):
                    lag.remove(tp.topic, str(tp.partition))
            self.ingest.report_owned()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        async with self.ingest.urgently():
            partitions = {tp.partition for tp in assigned}
            self.ingest.forget_dormant(partitions)
            await self.ingest.restore(partitions)
            self.ingest.report_owned()
            self.ingest.metrics.ready_reason = ""   # state restored: serving (also with no partition)
