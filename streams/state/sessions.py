"""Cookie-banner choices of sessions (policy section 6), held whole by every worker.

A visitor chooses on the banner before login, under a session id; once logged in, the session's
logs are keyed by the customer's id, so they are on another partition, often another worker, than
the choice. Session choices are therefore not partitioned state: every worker holds all of them.

* The worker that handles a session's ``consent.v1`` record writes the session's state
  (processors/consent.py: the current choice per purpose, no history) to the compacted topic
  ``<app id>-session-consent-changelog``, key the session id, in the consent record's partition:
  the owner of an input partition is the one writer of that changelog partition.
* Every worker reads the whole topic when it starts, before its ingest consumer joins the group,
  and then follows it with a consumer of its own (every partition assigned, no group). A record is
  merged into what is held (per purpose the later choice, processors.consent.merge_states), so a
  worker that reads back its own older write, or a session written by two workers, never goes back
  to an older choice. When a worker is assigned a partition it first follows the partition to its
  end, so that its next write of a session there starts from the previous owner's last one.
* Choices older than ``[consent] session_choice_max_age`` (default 395 days: 13 months) are
  forgotten by every worker and tombstoned by the partition's owner (:meth:`SessionChoices.sweep`).

Memory: a session is held as one dict entry of tuples (the purpose, source and policy version
are interned, shared by every session; its id, event ids and times are its own): about 500 bytes
with one choice and 750 with two, for a 37-character session id and uuid event ids
(tests/streams/test_session_choices.py measures it). A million sessions with two choices take
about 750 MB on every worker, which ``session_choice_max_age`` bounds; ``lethe_session_choices``
shows how many a worker holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from processors.consent import ConsentEvent, decide, expire_choices, merge_states
from processors.time import parse_time
from streams.kafka import aiokafka_options
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState, Restored, read_to_end
from streams.topics import changelog_name

log = logging.getLogger(__name__)

FIELDS = ("purpose", "granted", "policy_version", "source", "occurred_at", "event_id")
# (partition of its changelog record, epoch of its oldest choice, one tuple of FIELDS per purpose)
Held = tuple[int, float, tuple[tuple[Any, ...], ...]]


def session_consent_topic(settings: Settings) -> str:
    return changelog_name(settings, "session-consent")


def _packed(partition: int, state: dict[str, Any]) -> Held:
    choices = tuple(tuple(sys.intern(d[f]) if f in ("purpose", "policy_version", "source") else d[f]
                          for f in FIELDS) for d in state["current"].values())
    return partition, min(parse_time(c[4]) for c in choices), choices


def _unpacked(held: Held) -> dict[str, Any]:
    return {"current": {c[0]: dict(zip(FIELDS, c, strict=True)) for c in held[2]}, "history": []}


class SessionChoices(PartitionedState):
    """Every session's current banner choices, on every worker; ``owned``: the partitions it writes."""

    what = "session consent choices"

    def __init__(self, bootstrap: str, topic: str, partitions: int, metrics: Metrics, max_age: float,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(bootstrap, topic)
        self.partitions, self.metrics, self.max_age, self.clock = partitions, metrics, max_age, clock
        self.sessions: dict[str, Held] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self._follower: asyncio.Task[None] | None = None

    # reading --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the whole topic, then follow it in the background."""
        await super().start()
        self.consumer = AIOKafkaConsumer(**aiokafka_options(), bootstrap_servers=self.bootstrap, group_id=None,
                                         client_id="lethe-session-consent", enable_auto_commit=False)
        await self.consumer.start()
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        count = await read_to_end(self.consumer, tps, self.load)
        self.expire(self.clock())
        log.info("restored %s of all %d partitions (%d records read, %d sessions held)", self.what,
                 self.partitions, count, len(self.sessions))
        self._follower = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self.consumer is not None:
            await self.consumer.stop()
        await super().stop()

    async def _follow(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            except KafkaError as exc:   # the broker away: the consumer reconnects; try again
                log.warning("following %s failed (%s); retrying in 1s", self.topic, type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for tp, records in batch.items():
                self.load(tp.partition, records)

    def load(self, partition: int, records: list[Any]) -> None:
        cutoff = self.clock() - self.max_age
        sessions = self.sessions
        for record in records:
            session = record.key.decode()
            held = sessions.get(session)
            if record.value is None:   # expired, or moved to another partition by its writer
                if held is not None and held[0] == partition:
                    del sessions[session]
                continue
            state = orjson.loads(record.value)
            merged = expire_choices(merge_states(_unpacked(held), state) if held is not None else state, cutoff)
            if merged is None:
                sessions.pop(session, None)
            else:
                sessions[session] = _packed(partition, merged)
        self.metrics.session_choices.set(len(sessions))

    async def restore(self, partitions: set[int]) -> Restored:
        """Newly assigned partitions: follow them to their end before writing there (module docstring)."""
        new = sorted(partitions - self.owned)
        if not new or self.consumer is None:
            self.owned.update(new)
            return Restored()
        tps = [TopicPartition(self.topic, p) for p in new]
        ends = await self.consumer.end_offsets(tps)
        for tp in tps:
            while await self.consumer.position(tp) < ends[tp]:
                await asyncio.sleep(0.02)
        self.owned.update(new)
        return Restored()   # read by the follower, not here

    def drop(self, partition: int) -> None:
        """A revoked partition's sessions stay: every worker holds every session."""

    # gating and writing -----------------------------------------------------------------------------
    def state_of(self, session: str) -> dict[str, Any] | None:
        held = self.sessions.get(session)
        return _unpacked(held) if held is not None else None

    def record(self, partition: int, event: ConsentEvent) -> bool:
        """A session's banner choice: held at once, written to ``partition`` with the batch's state."""
        session = event.subject
        held = self.sessions.get(session)
        decision = decide(_unpacked(held) if held is not None else None, event)
        self.sessions[session] = _packed(partition, decision.state)
        self.stage(partition, session.encode(), orjson.dumps(decision.state))
        if held is not None and held[0] != partition:   # consent.v1 not keyed by the session id
            self.stage(held[0], session.encode(), None)
        self.metrics.session_choices.set(len(self.sessions))
        return decision.current

    def expire(self, now: float) -> int:
        """Forget the choices older than ``max_age``; stage the changes of the partitions this worker owns."""
        cutoff = now - self.max_age
        expired = 0
        for session, held in list(self.sessions.items()):
            if held[1] >= cutoff:
                continue
            expired += 1
            state = expire_choices(_unpacked(held), cutoff)
            if state is None:
                del self.sessions[session]
            else:
                self.sessions[session] = _packed(held[0], state)
            if held[0] in self.owned:
                self.stage(held[0], session.encode(), orjson.dumps(state) if state is not None else None)
        if expired:
            self.metrics.session_choices_expired.inc(expired)
            self.metrics.session_choices.set(len(self.sessions))
        return expired

    async def sweep(self) -> None:
        """Expire and write the tombstones (from the worker's background loop, under the ingest lock)."""
        if self.expire(self.clock()):
            await self.flush()
