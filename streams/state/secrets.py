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
from streams.state.maps import Maps, Partitioned
from streams.topics import changelog_name

log = logging.getLogger(__name__)


def changelog_topic(settings: Settings) -> str:
    return changelog_name(settings, "secrets")


class SecretStore(PartitionedState):
    """Subject secrets of the partitions this worker owns, backed by a compacted changelog."""

    what = "subject secrets"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics,
                 forget_keys: Callable[[bytes], None] = lambda secret: None, maps: Maps | None = None) -> None:
        super().__init__(bootstrap, topic)
        self.metrics = metrics
        self.forget_keys = forget_keys   # drops keys derived from a secret this worker lets go
        made = maps or Maps()
        self.partitions: Partitioned[bytes] = made.raw("secrets")
        self._lookups = self.partitions.lookups   # one attribute less per record

    def load(self, partition: int, records: list[Any]) -> None:
        # a secret shredded or replaced (a catch-up, streams/state/base.py): its derived keys go too
        self.partitions.load(partition, ((record.key, record.value) for record in records), self.forget_keys)

    def restored(self, partitions: list[int]) -> None:
        self.metrics.subject_secrets.set(self.size())

    def drop(self, partition: int) -> None:
        store = self.partitions.get(partition)
        if store is not None:
            for secret in store.values():
                self.forget_keys(secret)
            self.partitions.close(partition)
        self.metrics.subject_secrets.set(self.size())

    async def stop(self) -> None:
        self.partitions.close_all()
        await super().stop()

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
        lookups = self._lookups
        try:
            get = lookups[partition]
        except KeyError:
            self.partitions[partition]   # made: a partition with no secret yet
            get = lookups[partition]
        key = subject.encode()
        secret = get(key)
        if secret is None and len(lookups) > 1:
            # not copied into this partition: its state is what its changelog says (a copy could outlive
            # a shredding on the other partition's next owner; streams/state/base.py)
            secret = next((found for other in lookups.values() if (found := other(key)) is not None), None)
        return secret

    def held_in(self, subject: str) -> list[int]:
        """The partitions in which this worker holds the subject's secret."""
        key = subject.encode()
        return sorted(p for p, store in self.partitions.items() if key in store)

    def add(self, partition: int, subject: str, secret: bytes) -> None:
        """Keep a new subject's secret and stage it for the changelog (written by :meth:`flush`)."""
        key = subject.encode()
        self.partitions[partition][key] = secret
        self.stage(partition, key, secret)
        self.metrics.subjects_created.inc()

    async def flush(self) -> None:
        await super().flush()
        self.metrics.subject_secrets.set(self.size())
