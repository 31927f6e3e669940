"""Consent state per subject, partitioned like the input (docs/rights.md).

``consent.v1`` is consumed by the ingest consumer; each subject's state (current decision per
purpose, recent history) is kept in the compacted topic ``<app id>-consent-changelog`` (key: the
subject), restored on assignment and written before the event's offset is committed. Every
decision is audited. The state decides which consent-based outputs a subject's records reach.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from processors.consent import ConsentEvent, ConsentPolicy, apply_consent, gates_for
from processors.errors import InvalidRecord
from processors.inputs import Inputs
from processors.records import audit_record
from streams.changelog import PartitionedState, dead_letter, publish_all
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import changelog_name

log = logging.getLogger(__name__)


def consent_topic(settings: Settings) -> str:
    return changelog_name(settings, "consent")


class ConsentStore(PartitionedState):
    what = "consent state"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics, policy: ConsentPolicy, version: str,
                 outputs: Mapping[str, Sequence[str]]) -> None:
        super().__init__(bootstrap, topic)
        self.metrics, self.policy, self.version = metrics, policy, version
        self.outputs = {o: tuple(p) for o, p in outputs.items() if p}   # consent-based outputs only
        # without any decision a subject is held back only where an opt-in purpose is required
        self.gates_without_state = gates_for(None, self.outputs, policy, version)
        self.partitions: dict[int, dict[str, dict[str, Any]]] = {}

    def load(self, partition: int, records: list[Any]) -> None:
        states = self.partitions.setdefault(partition, {})
        for record in records:
            subject = record.key.decode()
            if record.value is None:
                states.pop(subject, None)
            else:
                states[subject] = orjson.loads(record.value)

    def drop(self, partition: int) -> None:
        self.partitions.pop(partition, None)

    def state_of(self, subject: str) -> dict[str, Any] | None:
        for states in self.partitions.values():
            state = states.get(subject)
            if state is not None:
                return state
        return None

    def gates(self, subject: str) -> dict[str, str]:
        if not self.outputs:
            return {}
        state = self.state_of(subject)
        if state is None:
            return self.gates_without_state
        return gates_for(state, self.outputs, self.policy, self.version)

    def record(self, partition: int, event: ConsentEvent) -> bool:
        state = self.state_of(event.subject)
        state, current = apply_consent(state, event)
        for states in self.partitions.values():   # one copy, in the partition of this event
            states.pop(event.subject, None)
        self.partitions.setdefault(partition, {})[event.subject] = state
        self.stage(partition, event.subject.encode(), orjson.dumps(state))
        return current

    def erase(self, partition: int, subject: str) -> None:
        """Erasure: forget the subject's consent history, but keep its refusals.

        A refusal must outlive the erasure, or the subject's later records (or those still in
        flight) would reach the outputs it refused. What is kept is the current refusal per
        purpose, nothing else; with no refusal the state is tombstoned.
        """
        state = self.state_of(subject)
        for states in self.partitions.values():
            states.pop(subject, None)
        refusals = {purpose: dict(decision)
                    for purpose, decision in (state or {}).get("current", {}).items() if not decision["granted"]}
        if refusals:
            kept = {"current": refusals, "history": [], "erased": True}
            self.partitions.setdefault(partition, {})[subject] = kept
            self.stage(partition, subject.encode(), orjson.dumps(kept))
        else:
            self.stage(partition, subject.encode(), None)


def consent_audit(event: ConsentEvent, now: float, current: bool, cause: str | None = None) -> dict[str, Any]:
    details = {"purpose": event.purpose, "granted": "true" if event.granted else "false",
               "policy_version": event.policy_version, "source": event.source, "event_id": event.event_id,
               "occurred_at": event.occurred_at, "current": "true" if current else "false (an older decision)"}
    return audit_record("consent", event.subject, now, f"consent:{event.event_id}", rule=f"consent.{event.purpose}",
                        request_id=cause, details=details)


class ConsentHandler:
    """consent.v1 from the ingest consumer (through a TopicHandler): record each decision, audit it."""

    def __init__(self, topic: str, dlq_topic: str, audit_topic: str, store: ConsentStore,
                 producer: Callable[[], AIOKafkaProducer], metrics: Metrics,
                 clock: Callable[[], float] = time.time, *, inputs: Inputs) -> None:
        self.clock, self.inputs = clock, inputs
        self.topic, self.dlq_topic, self.audit_topic = topic, dlq_topic, audit_topic
        self.store, self.producer, self.metrics = store, producer, metrics

    async def handle(self, messages: Sequence[Any]) -> None:
        now = self.clock()
        out: list[tuple[str, bytes | None, bytes | None, int | None, Any]] = []
        for message in messages:
            try:
                event = self.inputs.consent(message.value)
            except InvalidRecord as exc:
                out.append(dead_letter(self.dlq_topic, message, exc))
                self.metrics.records_dead.labels(self.topic, exc.rule).inc()
                continue
            current = self.store.record(message.partition, event)
            self.metrics.consent_decisions.labels(event.purpose, "granted" if event.granted else "refused").inc()
            out.append((self.audit_topic, orjson.dumps(consent_audit(event, now, current)), event.subject.encode(),
                        message.partition, None))
        await publish_all(self.producer, out, "consent audit records")
        await self.store.flush()
