"""Consent state per subject of the partitions a worker owns, backed by ``<app id>-consent-changelog``
(key: the subject): the current decision per purpose and recent history. Sessions' cookie-banner
choices are not partitioned: :class:`~streams.state.sessions.SessionChoices` holds them all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from processors.consent import ConsentEvent, ConsentPolicy, after_erasure, decide, record_gates
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState
from streams.state.maps import Json, Maps, Partitioned
from streams.state.sessions import SessionChoices
from streams.topics import changelog_name

log = logging.getLogger(__name__)


def consent_topic(settings: Settings) -> str:
    return changelog_name(settings, "consent")


class ConsentStore(PartitionedState):
    what = "consent state"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics, policy: ConsentPolicy, version: str,
                 outputs: Mapping[str, Sequence[str]], sessions: SessionChoices | None = None,
                 maps: Maps | None = None) -> None:
        super().__init__(bootstrap, topic)
        self.sessions = sessions
        self.metrics, self.policy, self.version = metrics, policy, version
        self.outputs = {o: tuple(p) for o, p in outputs.items() if p}   # consent-based outputs only
        # without any decision a subject is held back only where an opt-in purpose is required
        self.gates_without_state = record_gates(None, None, self.outputs, policy, version)
        made = maps or Maps()
        self.partitions: Partitioned[Json] = made.json("consent")   # subject ->

    def load(self, partition: int, records: list[Any]) -> None:
        self.partitions.load(partition, ((record.key, record.value) for record in records))

    def drop(self, partition: int) -> None:
        self.partitions.close(partition)

    async def stop(self) -> None:
        self.partitions.close_all()
        await super().stop()

    def state_of(self, subject: str) -> dict[str, Any] | None:
        key = subject.encode()
        for get in self.partitions.lookups.values():   # per record: see Partitioned
            state = get(key)
            if state is not None:
                return state
        return None

    def gates(self, subject: str | None, session: str | None = None) -> dict[str, str]:
        """The consent gates of a record of ``subject`` (None: anonymous) in ``session`` (None: none known)."""
        if not self.outputs:
            return {}
        state = self.state_of(subject) if subject is not None else None
        choice = self.sessions.state_of(session) if session is not None and self.sessions is not None else None
        if state is None and choice is None:
            return self.gates_without_state
        return record_gates(state, choice, self.outputs, self.policy, self.version)

    def record(self, partition: int, event: ConsentEvent) -> bool:
        """Record a decision (a session's banner choice goes to the session choices); True if now current."""
        if event.session:
            if self.sessions is None:
                raise ValueError("session consent choices are not wired into this consent store")
            return self.sessions.record(partition, event)
        decision = decide(self.state_of(event.subject), event)
        self.put(partition, event.subject, decision.state)
        return decision.current

    def erase(self, partition: int, subject: str) -> None:
        """Erasure: keep what processors.consent.after_erasure keeps (the refusals), or nothing."""
        self.put(partition, subject, after_erasure(self.state_of(subject)))

    def put(self, partition: int, subject: str, state: dict[str, Any] | None) -> None:
        """Store the subject's consent state (None: tombstone it), in one copy, in ``partition``."""
        key = subject.encode()
        for states in self.partitions.values():
            states.pop(key, None)
        if state is not None:
            self.partitions[partition][key] = state
        self.stage(partition, subject.encode(), orjson.dumps(state) if state is not None else None)
