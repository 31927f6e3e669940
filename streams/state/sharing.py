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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from processors.sharing import (
    Entry,
    HeldBack,
    Key,
    Recipient,
    Share,
    Sharing,
    Terms,
    aggregate,
    entry_key,
    entry_of,
    record_key,
    terms_of,
    write_now,
)
from processors.time import iso
from streams.state.base import PartitionedState

log = logging.getLogger(__name__)


class SharingStore(PartitionedState):
    what = "sharing ledger"

    def __init__(self, bootstrap: str, topic: str, partners: Mapping[str, Recipient],
                 clock: Callable[[], float] = time.time,
                 on_share: Callable[[str, str, int], None] | None = None,
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
                    found.append(entry_of(key, packed))
                    break
        return found

    def share(self, shares: Iterable[tuple[int, Share]]) -> int:
        """Aggregate a batch's shares (partition, share) into the ledger; stage the entries to write with
        the batch (new ones, and changed ones whose resolution has passed) and hold back the others.
        Returns how many were staged. ``on_share`` hears the records shared per partner and category."""
        by_partition: dict[int, list[Share]] = {}
        for partition, one in shares:
            by_partition.setdefault(partition, []).append(one)
        now = self.clock()
        stamp = sys.intern(iso(now))   # every entry of the batch is last shared then
        terms = {name: _interned_terms(terms_of(p)) for name, p in self.partners.items()}   # the partners' now
        resolution_s, held, holding = self.held.resolution_s, self.held, self.held.held
        staged = 0
        added: dict[tuple[str, str], int] = {}   # (partner, category) -> records shared
        for partition, batch in by_partition.items():
            entries = self.partitions.setdefault(partition, {})
            # only an entry staged here becomes a record (entry_of); a held-back one is its packed line
            for key, line in aggregate(entries, batch, terms, stamp).items():
                old = entries.get(key)
                if old is None:
                    key = _interned(key)
                    self.by_subject.setdefault(key[0], set()).add(key)
                    write, written_at, count = True, now, line[6]
                else:
                    written_at, count = old[7], line[6] - old[6]
                    write = write_now(False, old[:4] != line[:4], written_at, now, resolution_s)
                if write:
                    entries[key] = line + (now,)   # noqa: RUF005 (half the time of (*line, now))
                    held.written(key)
                    self.stage(partition, record_key(key), orjson.dumps(entry_of(key, line)))
                    staged += 1
                else:
                    entries[key] = line + (written_at,)   # noqa: RUF005
                    if key not in holding:   # else HeldBack.hold keeps it as it is
                        held.hold(partition, _interned(key), written_at)
                pair = key[1], key[2]
                added[pair] = added.get(pair, 0) + count
        if self.on_share is not None:
            for (partner, category), count in added.items():
                self.on_share(partner, category, count)
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
                self.stage(partition, record_key(key), orjson.dumps(entry_of(key, packed)))
            try:
                await asyncio.wait_for(self.flush(), within)
            except TimeoutError:
                with self._staging:
                    self._pending = []
                log.warning("the broker did not take %d held-back sharing-ledger entries within %.0fs; their "
                            "last counts and times are not written (the entries are)", len(taken) - start, within)
                return start
        return len(taken)


# entries per write of held-back ones: a stop that gives each chunk seconds goes on while the broker takes them
WRITE_CHUNK = 5000


# (purpose, basis, region, safeguard, first_shared_at, last_shared_at, count, written_at): written_at is
# when the entry was last written (or restored), one float object per batch
Packed = tuple[str | None, str, str, str | None, str, str, int, float]   # an entry's Line, then written_at


def _word(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


def _interned(key: Key) -> Key:
    subject, partner, category = key
    return subject, sys.intern(partner), sys.intern(category)


def _interned_terms(terms: Terms) -> Terms:
    purpose, basis, region, safeguard = terms
    return _word(purpose), sys.intern(basis), sys.intern(region), _word(safeguard)


def _packed(entry: Mapping[str, Any], written_at: float) -> Packed:
    return (_word(entry.get("purpose")), sys.intern(entry["basis"]), sys.intern(entry["region"]),
            _word(entry.get("safeguard")), sys.intern(entry["first_shared_at"]), sys.intern(entry["last_shared_at"]),
            int(entry["count"]), written_at)
