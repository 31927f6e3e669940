"""The sharing ledger of the partitions a worker owns, backed by ``privacy.sharing.v1`` (compacted; key
``subject|partner|category``, written to the subject's partition), restored on assignment like the
other state (streams/state/base.py). What an entry says is processors/sharing.py.

A batch's shares are aggregated and staged in :meth:`SharingStore.share` and written with the
batch's other state, before any of its outputs is produced: a partner never holds a record the
ledger does not know of, so an erasure always reaches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from processors.sharing import Entry, Key, Recipient, Share, aggregate, entry_key, record_key
from streams.state.base import PartitionedState


class SharingStore(PartitionedState):
    what = "sharing ledger"

    def __init__(self, bootstrap: str, topic: str, partners: Mapping[str, Recipient],
                 clock: Callable[[], float] = time.time, on_share: Callable[[Entry, int], None] | None = None) -> None:
        super().__init__(bootstrap, topic)
        self.partners, self.clock, self.on_share = dict(partners), clock, on_share
        self.partitions: dict[int, dict[Key, Entry]] = {}
        self.by_subject: dict[str, set[Key]] = {}

    def load(self, partition: int, records: list[Any]) -> None:
        entries = self.partitions.setdefault(partition, {})
        for record in records:
            if record.value is None:
                continue   # the ledger is never tombstoned today; a tombstone would carry no entry
            entry = orjson.loads(record.value)
            key = entry_key(entry)
            entries[key] = entry
            self.by_subject.setdefault(key[0], set()).add(key)

    def drop(self, partition: int) -> None:
        for key in self.partitions.pop(partition, {}):
            keys = self.by_subject.get(key[0])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_subject[key[0]]

    def of_subject(self, subject: str) -> list[Entry]:
        """The subject's entries, on whichever owned partition they are."""
        found = []
        for key in self.by_subject.get(subject, ()):
            for entries in self.partitions.values():
                entry = entries.get(key)
                if entry is not None:
                    found.append(entry)
                    break
        return found

    def share(self, shares: Iterable[tuple[int, Share]]) -> int:
        """Aggregate a batch's shares (partition, share) into the ledger and stage the changed entries."""
        by_partition: dict[int, list[Share]] = {}
        for partition, one in shares:
            by_partition.setdefault(partition, []).append(one)
        now = self.clock()
        written = 0
        for partition, batch in by_partition.items():
            entries = self.partitions.setdefault(partition, {})
            changed = aggregate(entries, batch, self.partners, now)
            for key, entry in changed.items():
                added = entry["count"] - (entries[key]["count"] if key in entries else 0)
                entries[key] = entry
                self.by_subject.setdefault(key[0], set()).add(key)
                self.stage(partition, record_key(key), orjson.dumps(entry))
                if self.on_share is not None:
                    self.on_share(entry, added)
            written += len(changed)
        return written
