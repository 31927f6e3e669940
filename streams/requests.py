"""Data-subject requests in the worker: erasure fan-out with completion tracking, restriction,
objection and quarantine gates, deadlines (policy sections 5 and 8; docs/rights.md).

What a request does is decided in processors/rights/ (one module per request type, registered in
``REQUEST_TYPES``); this module keeps the requests' state, builds each subject's view, applies the
effects (request states saved, consent stored, secrets shredded) and publishes what they name.

``privacy-requests.v1`` and ``lifecycle.acks.v1`` are consumed by the ingest consumer, so a
request, its commands' acks and the subject's other state are on the same partition number and
the same worker (commands are published to the request's partition and store agents ack on the
command's partition). Each request's state (streams/state/requests.py) is kept in the compacted topic
``<app id>-requests-changelog`` (key: request id), restored on assignment like the other state;
a request is written there before its input offset is committed, and every ack that changes it
before the ack's offset is committed. ``lethe request status ID`` reads the same topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from processors.errors import LetheError
from processors.pseudonym import partner_reference
from processors.rights import (
    OPEN,
    Effects,
    Request,
    Rights,
    RightsContext,
    SubjectView,
    kind_of,
    on_ack,
    on_key_expiry,
    on_tick,
    waiting_for,
)
from processors.rights.listing import soonest_due
from processors.rights.receipt import RawTopic
from processors.sharing import commands_topic
from processors.time import parse_time
from streams.metrics import Metrics
from streams.outputs import Outgoing, publish_all
from streams.producer import Producer
from streams.settings import Settings
from streams.state.consent import ConsentStore
from streams.state.holds import HoldStore
from streams.state.requests import RequestStore, requests_topic
from streams.state.secrets import SecretStore
from streams.state.sharing import SharingStore
from streams.state.timers import TimerStore

log = logging.getLogger(__name__)


class Requests:
    """Handles request events and acks; runs the deadline and retry loop."""

    def __init__(self, settings: Settings, rights: Rights, store: RequestStore, secrets: SecretStore,
                 producer: Callable[[], Producer], metrics: Metrics,
                 output_purposes: Mapping[str, str], consent: ConsentStore | None = None,
                 timers: TimerStore | None = None, holds: HoldStore | None = None,
                 sharing: SharingStore | None = None,
                 on_ack: Callable[[str, str, str], None] = lambda command_id, store, status: None,
                 clock: Callable[[], float] = time.time, raw_topics: Mapping[str, RawTopic] | None = None) -> None:
        self.on_ack = on_ack   # every ack, whatever caused its command (retention counts its own)
        self.rights, self.store, self.secrets, self.consent = rights, store, secrets, consent
        self.timers, self.holds, self.sharing = timers, holds, sharing
        self.topic_name = settings.topics.name
        self._master_key = settings.pseudonym_key.reveal()
        self.producer, self.metrics, self.clock = producer, metrics, clock
        self.context = RightsContext(
            rights, consent.policy if consent is not None else None, consent.version if consent is not None else "",
            dict(output_purposes), {o: settings.topics.name(o) for o in output_purposes},
            sharing.partners if sharing is not None else {}, dict(raw_topics or {}))
        self.commands_topic = settings.topics.name("lifecycle.commands.v1")
        self.audit_topic = settings.topics.name("privacy.audit.v1")
        self.exports_topic = settings.topics.name("privacy.exports.v1")
        self.dlq_topic = settings.topics.dlq
        self._reported: set[tuple[str, str]] = set()
        self._due_reported: set[str] = set()
        self._partners_reported: set[str] = set(self.context.partners)
        self._shredded = False   # a request of the batch in hand destroyed a secret

    # -- request events ---------------------------------------------------------------------
    def accept(self, message: Any, request: Request, now: float) -> list[Outgoing]:
        """Act on one decoded request (through an InputHandler); return what it publishes."""
        if self.store.find(request.request_id) is not None:
            return []   # a replay of a request already accepted
        kind = kind_of(request.type)
        effects = kind.accept(request, self._view(request.subject, now, message.partition, kind.export))
        out = self._apply(effects, message.partition, request.subject, request.type)
        self.metrics.requests_received.labels(request.type).inc()
        self._shredded |= effects.shred
        return out

    async def before_requests(self) -> None:
        """Before a batch's commands and audit records go out: the shredded secrets' tombstones and the
        consent changes, written at once. A crash after them replays the requests (their state is not
        written yet), which shreds and stores the same again."""
        shredded, self._shredded = self._shredded, False
        await asyncio.gather(*([self.secrets.flush()] if shredded else []),
                             *([self.consent.flush()] if self.consent is not None else []))

    async def finish_requests(self) -> None:
        """Once the batch's commands and audit records are on the broker: the requests' state, which
        makes a replay of them a no-op (so it must not be written before what they publish)."""
        await self.store.flush()
        self.report()

    def _view(self, subject: str, now: float, partition: int, export: bool) -> SubjectView:
        """What processors/rights sees of the subject: read from this worker's state, changed by none."""
        held_in = self.secrets.held_in(subject)
        return SubjectView(
            subject, now, self.context,
            holds=tuple(self._holds_on(subject)),
            consent=self.consent.state_of(subject) if self.consent is not None else None,
            requests=tuple(self.store.of_subject(subject)),
            secret_held=bool(held_in),
            secret_partitions=tuple(held_in),
            # the subject's partition only (a scan of its timers: see docs/rights.md)
            deadlines=tuple(self.timers.for_subject(subject, partition)) if export and self.timers else (),
            shared=tuple(self.sharing.of_subject(subject)) if self.sharing is not None else ())

    def _apply(self, effects: Effects, partition: int, subject: str, request_type: str) -> list[Outgoing]:
        """Carry out ``effects`` on this worker's state; return the records they publish."""
        for state in effects.states:   # where it is already (a lifted request), else the input's partition
            found = self.store.partition_of(state["request_id"])
            self.store.save(partition if found is None else found, state)
        if effects.consent is not None and self.consent is not None:
            self.consent.put(partition, subject, effects.consent.state)
        if effects.shred:
            self.secrets.shred(partition, subject)
        m = self.metrics
        if effects.failed:
            m.requests_failed.labels(request_type).inc()
        for purpose, outcome in effects.consent_decisions:
            m.consent_decisions.labels(purpose, outcome).inc()
        for command in effects.commands:
            m.commands_emitted.labels(command["action"], "request").inc()
        key = subject.encode()
        return [*((self.commands_topic, orjson.dumps(c), key, partition, None) for c in effects.commands),
                *self._to_partners(effects.partner_commands, subject, partition),
                *((self.exports_topic, orjson.dumps(p), key, partition, None) for p in effects.exports),
                *((self.audit_topic, orjson.dumps(a), key, partition, None) for a in effects.audits)]

    def _to_partners(self, commands: list[tuple[str, dict[str, Any]]], subject: str, partition: int) -> list[Outgoing]:
        """A partner's copy of a command, on its own commands topic, on the subject's partition (its store
        agent acks there, so the ack comes back to this worker). It names the subject, and is keyed, by
        the subject's reference at that partner (the ``lethe.subject`` of the records it received): a
        partner never learns the subject's id."""
        out: list[Outgoing] = []
        for partner, command in commands:
            reference = partner_reference(self._master_key, partner, subject)
            out.append((self.topic_name(commands_topic(partner)), orjson.dumps({**command, "subject": reference}),
                        reference.encode(), partition, None))
        return out

    def _holds_on(self, subject: str) -> list[Any]:
        if self.holds is None:
            return []
        return [h for holds in self.holds.partitions.values() for h in holds.for_subject(subject)]

    async def resume(self, subject: str) -> None:
        """After a hold's release: carry out the subject's erasures it suspended, if no hold is left."""
        if self._holds_on(subject):
            return
        now = self.clock()
        out: list[Outgoing] = []
        for partition, state in self.store.open_states():
            kind = kind_of(state["type"])
            if state["subject"] != subject or kind.resume is None:
                continue
            effects = kind.resume(state, self._view(subject, now, partition, kind.export))
            if effects is not None:
                out += self._apply(effects, partition, subject, state["type"])
        if out:
            await self._send(out)
            await self.secrets.flush()
            if self.consent is not None:
                await self.consent.flush()
            await self.store.flush()

    # -- acks ------------------------------------------------------------------------------
    def ack(self, message: Any, ack: dict[str, Any], now: float) -> list[Outgoing]:
        """Count one decoded ack (through an InputHandler); progress the request it belongs to."""
        command_id, store, status = ack["command_id"], ack["store"], ack["status"]
        self.on_ack(command_id, store, status)
        found = self.store.by_command.get(command_id)
        if found is None:
            return []   # a retention command, or a request of another worker
        partition, request_id = found
        state = self.store.get(partition, request_id)
        if state is None:
            return []
        outcome = on_ack(state, kind_of(state["type"]), command_id, store, status,
                         str(ack.get("rows_affected", 0)), now)
        if outcome.state is None:
            return []   # a replayed ack
        if outcome.erasure_seconds is not None:
            self.metrics.erasure_seconds.observe(outcome.erasure_seconds)
        self.store.save(partition, outcome.state)
        return [self._audit_out(outcome.state, partition, audit) for audit in outcome.audits]

    async def finish_acks(self) -> None:
        await self.store.flush()
        self.report()

    # -- deadlines and retries ------------------------------------------------------------------
    async def tick(self) -> None:
        now = self.clock()
        out: list[Any] = []
        for partition, state in self.store.open_states():
            outcome = on_tick(state, kind_of(state["type"]), self.context, now)
            if outcome.state is None:
                continue
            state = outcome.state
            out += [(self.commands_topic, orjson.dumps(c), state["subject"].encode(), partition, None)
                    for c in outcome.commands]
            out += self._to_partners(outcome.partner_commands, state["subject"], partition)
            if outcome.waiting_for:
                self.metrics.request_retries.labels(state["type"]).inc()
                log.warning("request %s: no ack from %s within %.0fs; commands sent again (retry %d)",
                            state["request_id"], ", ".join(outcome.waiting_for), self.rights.ack_timeout_s,
                            state["retries"])
            out += [self._audit_out(state, partition, audit) for audit in outcome.audits]
            self.store.save(partition, state)
        for partition, state in self.store.keyed_states():   # closed exports whose key has had its time
            expired = on_key_expiry(state, self.rights.export_key_ttl_s, now)
            if expired is not None:
                self.store.save(partition, expired[0])
                out.append(self._audit_out(expired[0], partition, expired[1]))
        if out:
            await self._send(out)
            await self.store.flush()
        self.report()

    def report(self) -> None:
        now = self.clock()
        counts: dict[tuple[str, str], int] = {}
        oldest = 0.0
        overdue = 0
        for _, state in self.store.open_states():
            if state["status"] in OPEN:
                counts[(state["type"], state["status"])] = counts.get((state["type"], state["status"]), 0) + 1
                oldest = max(oldest, now - parse_time(state["received_at"]))
                overdue += state["status"] == "overdue"
        gauge = self.metrics.requests_open
        for labels in list(self._reported):
            if labels not in counts:
                gauge.labels(*labels).set(0)
        for labels, count in counts.items():
            gauge.labels(*labels).set(count)
        self._reported = set(counts) | self._reported
        self.metrics.requests_overdue.set(overdue)
        self.metrics.request_oldest_open.set(oldest)
        self._report_due(now)
        self._report_partners(now)

    def _report_due(self, now: float) -> None:
        """The time left to the soonest due date, per type; a type with none left open loses its series
        (the near-deadline alert then has nothing to compare)."""
        soonest = soonest_due((state for _, state in self.store.open_states()), now)
        gauge = self.metrics.request_seconds_to_due
        for request_type in self._due_reported - soonest.keys():
            gauge.remove(request_type)
        for request_type, seconds in soonest.items():
            gauge.labels(request_type).set(seconds)
        self._due_reported = set(soonest)

    def _report_partners(self, now: float) -> None:
        """Commands each partner has not acked yet, and the age of the oldest (per partner)."""
        unacked: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for _, state in self.store.open_states():
            partners = state.get("partners") or {}
            if state["status"] not in OPEN or not partners:
                continue
            since = now - parse_time(state.get("partners_sent_at") or state["accepted_at"])
            for _, store in waiting_for(state):
                partner = partners.get(store)
                if partner is not None:
                    unacked[partner] = unacked.get(partner, 0) + 1
                    oldest[partner] = max(oldest.get(partner, 0.0), since)
        for partner in self._partners_reported | set(unacked):
            self.metrics.partner_unacked.labels(partner).set(unacked.get(partner, 0))
            self.metrics.partner_oldest_unacked.labels(partner).set(oldest.get(partner, 0.0))
        self._partners_reported |= set(unacked)

    def _audit_out(self, state: dict[str, Any], partition: int, audit: dict[str, Any]) -> Any:
        return (self.audit_topic, orjson.dumps(audit), state["subject"].encode(), partition, None)

    async def _send(self, out: list[Any]) -> None:
        await publish_all(self.producer, out, "request commands and audit records")


def read_request_states(bootstrap: str, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every request's latest state, read from the requests changelog to its end observed at the start
    (``lethe request status`` and ``list``)."""
    from streams.client import partition_counts, read_to_end

    topic = requests_topic(settings)
    count = partition_counts(bootstrap, [topic]).get(topic)
    if count is None:
        raise LetheError(f"no topic {topic}: no worker with LETHE_APP_ID={settings.app_id} has run on this "
                         "cluster yet (it creates the topic at start)")
    states: dict[str, dict[str, Any]] = {}
    for record in read_to_end(bootstrap, [(topic, p) for p in range(count)]):
        if record.key is None:
            continue
        if record.value is None:
            states.pop(record.key.decode(), None)
        else:
            states[record.key.decode()] = orjson.loads(record.value)
    return states


def read_request_state(bootstrap: str, settings: Settings, request_id: str) -> dict[str, Any] | None:
    """The latest state of a request, read from the requests changelog (for ``lethe request status``)."""
    return read_request_states(bootstrap, settings).get(request_id)
