"""The worker's dead letters, sealed with their subject's secret (processors/dlq.py, docs/dlq.md).

The subject of a dead letter is its record's key: every input topic is keyed by the subject's id,
and a record that does not decode has no field to name it by. A keyed record of a source that has
subjects is sealed with a key derived from that subject's secret, made (and written to the secrets
changelog) before the dead letter is produced if the subject has none yet, just as the pipeline
does for a new subject's first valid record. Erasure destroys that secret, and with it every dead
letter of the subject. Its key on dlq.v1 is derived from the same secret (processors/dlq.py
``letter_key``), so the subject's id is not on the topic and nothing names the subject once the
secret is gone. A record with no key, or of a source without subjects, is sealed with the
deployment's DLQ key and has no key on dlq.v1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from processors.dlq import DEPLOYMENT, SUBJECT, deployment_key, letter_key, seal, subject_key
from processors.errors import InvalidRecord
from processors.pipeline import BatchResult
from processors.pseudonym import new_subject_secret
from streams.outputs import Outgoing, dlq_headers

if TYPE_CHECKING:
    from streams.handler import BatchState


class DeadLetters:
    """Seals the dead letters of one input topic for ``topic`` (dlq.v1).

    ``state`` is the worker's per-subject state (:class:`streams.handler.BatchState`); None for a
    source without subjects, whose dead letters are all sealed with the deployment key.
    """

    def __init__(self, topic: str, master_key: bytes, state: BatchState | None) -> None:
        self.topic, self.master_key, self.state = topic, master_key, state
        self._deployment = deployment_key(master_key)

    def prepare(self, messages: Iterable[Any]) -> bool:
        """Give each keyed message's subject a secret if it has none; True if one was made (the
        caller flushes the state before producing, so no dead letter is sealed with a lost key)."""
        state = self.state
        if state is None:
            return False
        new: dict[str, tuple[int, str, bytes]] = {}
        for message in messages:
            subject = _subject(message.key)
            if subject is not None and subject not in new and state.secret(subject, message.partition) is None:
                new[subject] = (message.partition, subject, new_subject_secret())
        return bool(new) and state.absorb(BatchResult(new_secrets=list(new.values())))

    async def flush(self) -> None:
        if self.state is not None:
            await self.state.flush()

    def letter(self, message: Any, exc: InvalidRecord, value: bytes | None = None,
               extra: list[tuple[str, bytes]] | None = None) -> Outgoing:
        """The sealed DLQ record of ``message`` (``value``: what to keep of it, by default all of it)."""
        headers = dlq_headers(exc, message) + (extra or [])
        state, secret = self.state, None
        subject = _subject(message.key) if state is not None else None
        if state is not None and subject is not None:
            secret = state.secret(subject, message.partition)
        # no secret here only if prepare() did not run for this message (a record whose anonymized
        # copy outgrew the producer, keyed otherwise than its subject): the deployment key then
        if secret:
            kind, aes_key, dlq_key = SUBJECT, subject_key(self.master_key, secret), letter_key(secret)
        else:
            kind, aes_key, dlq_key = DEPLOYMENT, self._deployment, None
        original = message.value if value is None else value
        sealed = seal(aes_key, kind, dlq_key, dict(headers), message.key, original)
        return (self.topic, sealed, dlq_key, None, headers)


def _subject(key: bytes | None) -> str | None:
    if not key:
        return None
    try:
        return key.decode()
    except UnicodeDecodeError:
        return None   # not an id this worker could have a secret for
