"""The sharing ledger of the partitions a worker owns, backed by ``privacy.sharing.v1`` (compacted; key
``subject|partner|category``, written to the subject's partition), restored on assignment like the
other state (streams/state/base.py). What an entry says is processors/sharing.py.

A batch's shares are aggregated in :meth:`SharingStore.share`. The entries it creates are staged and
written with the batch's other state, before any of its outputs is produced: a partner never holds
a record the ledger does not know of, so an erasure always reaches it. An entry whose count and last
time alone moved is held back until the policy's ``[sharing] resolution`` has passed since its last
write (processors.sharing.write_now, HeldBack): :meth:`write_due` writes it then (app.py runs it every
second), :meth:`release` when its partition is revoked or the worker stops. A crash loses the held
counts and last times, never an entry.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

from processors.sharing import (
    Entry,
    HeldBack,
    Key,
    Recipient,
    Share,
    Sharing,
    aggregate,
    entry_key,
    record_key,
    write_now,
)
from streams.state.base import PartitionedState

log = logging.getLogger(__name__)


class SharingStore(PartitionedState):
    what = "sharing ledger"

    def __init__(self, bootstrap: str, topic: str, partners: Mapping[str, Recipient],
                 clock: Callable[[], float] = time.time, on_share: Callable[[Entry, int], None] | None = None,
                 sharing: Sharing | None = None) -> None:
        super().__init__(bootstrap, topic)
        self.partners, self.clock, self.on_share = dict(partners), clock, on_share
        # entries packed as tuples of interned words (a batch's entries share one time): less than half a dict
        self.partitions: dict[int, dict[Key, Packed]] = {}
        self.by_subject: dict[str, set[Key]] = {}
        self.held = HeldBack((sharing or Sharing()).resolution_s)

    def load(self, partition: int, records: list[Any]) -> None:
        entries = self.partitions.setdefault(partition, {})
        restored_at = self.clock()   # as good as a write: the topic holds the entry as it is now
        for record in records:
            if record.value is None:
                continue   # the ledger is never tombstoned today; a tombstone would carry no entry
            entry = orjson.loads(record.value)
            key = _interned(entry_key(entry))
            entries[key] = _packed(entry, restored_at)
            self.by_subject.setdefault(key[0], set()).add(key)

    def drop(self, partition: int) -> None:
        self.held.of_partitions({partition})   # what was not released is lost with the partition
        for key in self.partitions.pop(partition, {}):
            keys = self.by_subject.get(key[0])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_subject[key[0]]

    def of_subject(self, subject: str) -> list[Entry]:
        """The subject's entries, on whichever owned partition they are (held-back changes included)."""
        found = []
        for key in self.by_subject.get(subject, ()):
            for entries in self.partitions.values():
                packed = entries.get(key)
                if packed is not None:
                    found.append(_unpacked(key, packed))
                    break
        return found

    def share(self, shares: Iterable[tuple[int, Share]]) -> int:
        """Aggregate a batch's shares (partition, share) into the ledger; stage the entries to write with
        the batch (new ones, and changed ones whose resolution has passed) and hold back the others.
        Returns how many were staged."""
        by_partition: dict[int, list[Share]] = {}
        for partition, one in shares:
            by_partition.setdefault(partition, []).append(one)
        now = self.clock()
        resolution_s = self.held.resolution_s
        staged = 0
        for partition, batch in by_partition.items():
            entries = self.partitions.setdefault(partition, {})
            changed = aggregate(_Unpacking(entries), batch, self.partners, now)
            for key, entry in changed.items():
                old = entries.get(key)
                key = _interned(key)
                if old is None:
                    self.by_subject.setdefault(key[0], set()).add(key)
                written_at = now if old is None else old[-1]
                write = write_now(old is None, old is not None and old[:4] != _terms(entry), written_at, now,
                                  resolution_s)
                entries[key] = _packed(entry, now if write else written_at)
                if write:
                    self.held.written(key)
                    self.stage(partition, record_key(key), orjson.dumps(entry))
                    staged += 1
                else:
                    self.held.hold(partition, key, written_at)
                if self.on_share is not None:
                    self.on_share(entry, entry["count"] - (old[-2] if old is not None else 0))
        return staged

    @property
    def held_back(self) -> int:
        """Entries changed since their last write and not written yet."""
        return len(self.held)

    async def write_due(self) -> int:
        """Write the held-back entries whose resolution has passed since their last write."""
        return await self._write(self.held.due(self.clock()))

    async def release(self, partitions: set[int], within: float | None = None) -> None:
        """Write the held-back entries of ``partitions`` before they go (revoked, or the worker stops)."""
        await self._write(self.held.of_partitions(partitions), within)

    def unwritten(self, partitions: set[int]) -> set[int]:
        return super().unwritten(partitions) | {p for p, _ in self.held.held.values() if p in partitions}

    async def _write(self, taken: list[tuple[int, Key]], within: float | None = None) -> int:
        """Write ``taken`` in chunks; with ``within``, give up (a stop) once a chunk takes longer than that."""
        now = self.clock()
        for start in range(0, len(taken), WRITE_CHUNK):
            for partition, key in taken[start:start + WRITE_CHUNK]:
                entries = self.partitions[partition]
                packed = entries[key] = (*entries[key][:-1], now)
                self.stage(partition, record_key(key), orjson.dumps(_unpacked(key, packed)))
            try:
                await asyncio.wait_for(self.flush(), within)
            except TimeoutError:
                self._pending = []
                log.warning("the broker did not take %d held-back sharing-ledger entries within %.0fs; their "
                            "last counts and times are not written (the entries are)", len(taken) - start, within)
                return start
        return len(taken)


# entries per write of held-back ones: a stop that gives each chunk seconds goes on while the broker takes them
WRITE_CHUNK = 5000


# (purpose, basis, region, safeguard, first_shared_at, last_shared_at, count, written_at): written_at is
# when the entry was last written (or restored), one float object per batch
Packed = tuple[str | None, str, str, str | None, str, str, int, float]
Terms = tuple[str | None, str, str, str | None]


def _word(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


def _interned(key: Key) -> Key:
    subject, partner, category = key
    return subject, sys.intern(partner), sys.intern(category)


def _terms(entry: Mapping[str, Any]) -> Terms:
    return _word(entry.get("purpose")), entry["basis"], entry["region"], _word(entry.get("safeguard"))


def _packed(entry: Mapping[str, Any], written_at: float) -> Packed:
    return (_word(entry.get("purpose")), sys.intern(entry["basis"]), sys.intern(entry["region"]),
            _word(entry.get("safeguard")), sys.intern(entry["first_shared_at"]), sys.intern(entry["last_shared_at"]),
            int(entry["count"]), written_at)


def _unpacked(key: Key, packed: Packed) -> Entry:
    """The entry as the topic holds it (processors.records.sharing_entry's field order)."""
    subject, partner, category = key
    purpose, basis, region, safeguard, first_shared_at, last_shared_at, count, _ = packed
    return {"subject": subject, "partner": partner, "category": category, "purpose": purpose, "basis": basis,
            "region": region, "safeguard": safeguard, "first_shared_at": first_shared_at,
            "last_shared_at": last_shared_at, "count": count}


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
