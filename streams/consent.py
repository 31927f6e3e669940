"""Consent decisions from ``consent.v1`` (docs/rights.md), through an InputHandler.

``consent.v1`` is consumed by the ingest consumer; each subject's state (streams/state/consent.py:
current decision per purpose, recent history) is kept in the compacted topic ``<app id>-consent-changelog`` (key: the
subject), restored on assignment and written before the event's offset is committed. Every
decision is audited. The state decides which consent-based outputs a subject's records reach.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from processors.consent import ConsentEvent, consent_audit
from streams.metrics import Metrics
from streams.outputs import Outgoing
from streams.state.consent import ConsentStore

log = logging.getLogger(__name__)


class ConsentHandler:
    """consent.v1 records (through an InputHandler): record each decision, audit it."""

    def __init__(self, audit_topic: str, store: ConsentStore, metrics: Metrics) -> None:
        self.audit_topic, self.store, self.metrics = audit_topic, store, metrics

    def act(self, message: Any, event: ConsentEvent, now: float) -> list[Outgoing]:
        current = self.store.record(message.partition, event)
        self.metrics.consent_decisions.labels(event.purpose, "granted" if event.granted else "refused").inc()
        return [(self.audit_topic, orjson.dumps(consent_audit(event, now, current)), event.subject.encode(),
                 message.partition, None)]

    async def before(self) -> None:
        """The decisions, written before their audit records go out (a replay records and audits them again)."""
        await asyncio.gather(self.store.flush(),
                             *([self.store.sessions.flush()] if self.store.sessions is not None else []))
