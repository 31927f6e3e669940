"""The per-subject state of one worker, as one object an input batch is handed (docs/architecture.md).

An input batch needs, for each of its subjects, the secret its pseudonyms are keyed with and the
outputs its records must not reach (consent, restriction, objection, quarantine); it leaves new
secrets, retention deadlines and shares with partners (the sharing ledger) behind.
:class:`SubjectState` answers the first from the stores the worker owns and keeps the second, so
that ``processors`` is entered once per batch and no callable reaches back into ``streams/`` mid-batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from processors.minors import QUARANTINED
from processors.pipeline import BatchResult
from streams.retention import Retention
from streams.state.consent import ConsentStore
from streams.state.requests import RequestStore
from streams.state.secrets import SecretStore
from streams.state.sharing import SharingStore


class SubjectState:
    def __init__(self, secrets: SecretStore, retention: Retention | None = None,
                 requests: RequestStore | None = None, consent: ConsentStore | None = None,
                 sharing: SharingStore | None = None) -> None:
        self.secrets, self.retention, self.requests, self.consent = secrets, retention, requests, consent
        self.sharing = sharing
        # subjects found under age whose minor_flag request is filed but maybe not yet accepted: quarantined
        # meanwhile, so that their next records (with a date of birth or not) reach no output either
        self.minors: dict[str, None] = {}

    def secret(self, subject: str, partition: int) -> bytes | None:
        return self.secrets.secret_of(subject, partition)

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        if subject in self.minors:
            return QUARANTINED
        gates: dict[str, str] | None = None
        if subject is not None and self.requests is not None and self.requests.gating:
            gates = self.requests.blocked({subject: partition}).get(subject)
        if self.consent is not None:
            refused = self.consent.gates(subject, session)
            if refused:
                gates = dict(gates or {})
                for output, reason in refused.items():
                    gates.setdefault(output, reason)   # a request's reason comes first
        return gates

    def absorb(self, result: BatchResult) -> bool:
        """Keep the batch's new secrets and deadlines; True if there is anything to flush."""
        for partition, subject, secret in result.new_secrets:
            self.secrets.add(partition, subject, secret)
        changed = bool(result.new_secrets)
        if result.minors:
            if len(self.minors) > 100_000:   # their requests are in force long since
                self.minors.clear()
            self.minors.update((subject, None) for _, subject in result.minors)
        if result.timers and self.retention is not None:
            changed |= self.retention.schedule_timers(result.timers) > 0
        if result.shares and self.sharing is not None:
            changed |= self.sharing.share(result.shares) > 0
        return changed

    async def flush(self) -> None:
        """Write what the batches staged (secrets, deadlines, the sharing ledger) and wait for the broker
        to have it: before any output of the batch, so a partner never holds a record the ledger misses.
        The three topics are written at once (one broker round trip, not three)."""
        await asyncio.gather(self.secrets.flush(),
                             *([self.retention.timers.flush()] if self.retention is not None else []),
                             *([self.sharing.flush()] if self.sharing is not None else []))
