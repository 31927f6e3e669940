"""The sharing ledger of the partitions a worker owns, backed by ``privacy.sharing.v1`` (compacted; key
``subject|partner|category``, written to the subject's partition), restored on assignment like the
other state (streams/state/base.py). What an entry says is processors/sharing.py.

A batch's shares are aggregated and staged in :meth:`SharingStore.share` and written with the
batch's other state, before any of its outputs is produced: a partner never holds a record the
ledger does not know of, so an erasure always reaches it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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
        # entries packed as tuples of interned words (a batch's entries share one time): less than half a dict
        self.partitions: dict[int, dict[Key, Packed]] = {}
        self.by_subject: dict[str, set[Key]] = {}

    def load(self, partition: int, records: list[Any]) -> None:
        entries = self.partitions.setdefault(partition, {})
        for record in records:
            if record.value is None:
                continue   # the ledger is never tombstoned today; a tombstone would carry no entry
            entry = orjson.loads(record.value)
            key = _interned(entry_key(entry))
            entries[key] = _packed(entry)
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
                packed = entries.get(key)
                if packed is not None:
                    found.append(_unpacked(key, packed))
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
            changed = aggregate(_Unpacking(entries), batch, self.partners, now)
            for key, entry in changed.items():
                old = entries.get(key)
                added = entry["count"] - (old[-1] if old is not None else 0)
                key = _interned(key)
                entries[key] = _packed(entry)
                self.by_subject.setdefault(key[0], set()).add(key)
                self.stage(partition, record_key(key), orjson.dumps(entry))
                if self.on_share is not None:
                    self.on_share(entry, added)
            written += len(changed)
        return written


# (purpose, basis, region, safeguard, first_shared_at, last_shared_at, count)
Packed = tuple[str | None, str, str, str | None, str, str, int]
_FIELDS = ("purpose", "basis", "region", "safeguard", "first_shared_at", "last_shared_at", "count")


def _word(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


def _interned(key: Key) -> Key:
    subject, partner, category = key
    return subject, sys.intern(partner), sys.intern(category)


def _packed(entry: Mapping[str, Any]) -> Packed:
    return (_word(entry.get("purpose")), sys.intern(entry["basis"]), sys.intern(entry["region"]),
            _word(entry.get("safeguard")), sys.intern(entry["first_shared_at"]), sys.intern(entry["last_shared_at"]),
            int(entry["count"]))


def _unpacked(key: Key, packed: Packed) -> Entry:
    """The entry as the topic holds it (processors.records.sharing_entry's field order)."""
    subject, partner, category = key
    values = dict(zip(_FIELDS, packed, strict=True))
    return {"subject": subject, "partner": partner, "category": category, "purpose": values["purpose"],
            "basis": values["basis"], "region": values["region"], "safeguard": values["safeguard"],
            "first_shared_at": values["first_shared_at"], "last_shared_at": values["last_shared_at"],
            "count": values["count"]}


class _Unpacking(Mapping[Key, Entry]):
    """A partition's packed entries, read as entries (what processors.sharing.aggregate looks up)."""

    def __init__(self, entries: Mapping[Key, Packed]) -> None:
        self.entries = entries

    def __getitem__(self, key: Key) -> Entry:
        return _unpacked(key, self.entries[key])

    def __iter__(self) -> Iterator[Key]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
