"""Subject secrets of the partitions a worker owns, backed by ``<app id>-subject-secrets-changelog``.

A subject's secret keys its pseudonyms (docs/anonymization.md); destroying it (crypto-shredding)
makes every earlier pseudonym of the subject unlinkable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState
from streams.topics import changelog_name

log = logging.getLogger(__name__)


def changelog_topic(settings: Settings) -> str:
    return changelog_name(settings, "secrets")


class SecretStore(PartitionedState):
    """Subject secrets of the partitions this worker owns, backed by a compacted changelog."""

    what = "subject secrets"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics,
                 forget_keys: Callable[[bytes], None] = lambda secret: None) -> None:
        super().__init__(bootstrap, topic)
        self.metrics = metrics
        self.forget_keys = forget_keys   # drops keys derived from a secret this worker lets go
        self.partitions: dict[int, dict[bytes, bytes]] = {}

    def load(self, partition: int, records: list[Any]) -> None:
        store = self.partitions.setdefault(partition, {})
        for record in records:
            old = store.pop(record.key, None) if record.value is None else store.get(record.key)
            if old is not None and old != record.value:   # shredded or replaced (a catch-up): its keys go too
                self.forget_keys(old)
            if record.value is not None:
                store[record.key] = record.value

    def restored(self, partitions: list[int]) -> None:
        self.metrics.subject_secrets.set(self.size())

    def drop(self, partition: int) -> None:
        for secret in self.partitions.pop(partition, {}).values():
            self.forget_keys(secret)
        self.metrics.subject_secrets.set(self.size())

    def shred(self, partition: int, subject: str) -> bool:
        """Destroy a subject's secret (crypto-shredding): its earlier pseudonyms can no longer be linked.

        Removed wherever this worker holds it and tombstoned in its partition of the changelog
        (the caller flushes). A later record of the subject gets a new, unrelated secret.
        """
        key = subject.encode()
        found = False
        tombstoned = {partition}
        for held_in, store in self.partitions.items():
            secret = store.pop(key, None)
            if secret is not None:
                self.forget_keys(secret)
                found = True
                tombstoned.add(held_in)   # a loosely keyed subject may have it in another partition
        for p in sorted(tombstoned):
            self.stage(p, key, None)
        self.metrics.subject_secrets.set(self.size())
        return found

    def size(self) -> int:
        return sum(len(s) for s in self.partitions.values())

    def secret_of(self, subject: str, partition: int) -> bytes | None:
        """The subject's secret if this worker holds one, looked up first in its record's partition.

        A subject whose record arrived on another partition than usual (an upstream that keyed
        it differently) keeps its one secret if this worker holds it in any partition.
        """
        partitions = self.partitions
        store = partitions.setdefault(partition, {})
        key = subject.encode()
        secret = store.get(key)
        if secret is None:
            # not copied into this partition: its state is what its changelog says (a copy could outlive
            # a shredding on the other partition's next owner; streams/state/base.py)
            secret = next((other[key] for other in partitions.values() if key in other), None)
        return secret

    def add(self, partition: int, subject: str, secret: bytes) -> None:
        """Keep a new subject's secret and stage it for the changelog (written by :meth:`flush`)."""
        key = subject.encode()
        self.partitions.setdefault(partition, {})[key] = secret
        self.stage(partition, key, secret)
        self.metrics.subjects_created.inc()

    async def flush(self) -> None:
        await super().flush()
        self.metrics.subject_secrets.set(self.size())
