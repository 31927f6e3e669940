"""SharingStore.share against a straightforward reference (a full entry per changed key, built by
processors.records.sharing_entry, as the store did before it packed held-back entries directly), without
a broker: random batches on a fake clock, the resolution passing, the partners' terms changing, due
writes, a restore and a release. Both must stage the same records (partition, key, value bytes) in the
same order, hold back the same entries, keep the same packed entries and count the same shares."""

from __future__ import annotations

import asyncio
import random
import sys
import zlib
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from processors.records import sharing_entry
from processors.sharing import Entry, Key, Recipient, Share, Sharing, entry_key, record_key, write_now
from streams.state.sharing import SharingStore

T0 = 1_795_253_400.25   # a fraction of a second: iso() writes microseconds
RESOLUTION = 1800.0
PARTNERS = {
    "parcelco": Recipient("parcelco", "partners.parcelco.v1", "contract", "EU", "adequacy", "order_fulfilment"),
    "paynow": Recipient("paynow", "partners.paynow.v1", "contract", "US", "scc", "payment", store="psp-db"),
}
MOVED = {   # the policy changed: parcelco's terms move, paynow is gone, shipit is new
    "parcelco": Recipient("parcelco", "partners.parcelco.v1", "consent", "UK", "none", None),
    "shipit": Recipient("shipit", "partners.shipit.v1", "contract", "EU"),
}
CATEGORIES = ["identity.name", "contact.address", "transaction.order", "transaction.payment", "contact.email"]
PARTITIONS = 3


def reference_aggregate(ledger: Mapping[Key, Entry], shares: Iterable[Share], partners: Mapping[str, Recipient],
                        now: float) -> dict[Key, Entry]:
    changed: dict[Key, Entry] = {}
    for share in shares:
        partner = partners.get(share.partner)
        if partner is None:
            continue
        for category in share.categories:
            key = (share.subject, share.partner, category)
            entry = changed.get(key)
            if entry is None:
                old = ledger.get(key)
                entry = changed[key] = sharing_entry(
                    share.subject, share.partner, category, basis=partner.basis, region=partner.region,
                    first_shared_at=now, last_shared_at=now, count=old["count"] if old else 0,
                    purpose=partner.purpose, safeguard=partner.safeguard)
                if old:
                    entry["first_shared_at"] = old["first_shared_at"]
            entry["count"] += 1
    return changed


def _word(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


class Reference(SharingStore):
    """The store with the straightforward share: every changed entry built in full, then packed."""

    def share(self, shares: Iterable[tuple[int, Share]]) -> int:
        by_partition: dict[int, list[Share]] = {}
        for partition, one in shares:
            by_partition.setdefault(partition, []).append(one)
        now = self.clock()
        staged = 0
        added: dict[tuple[str, str], int] = {}
        for partition, batch in by_partition.items():
            entries = self.partitions.setdefault(partition, {})
            ledger = {key: dict(zip(("purpose", "basis", "region", "safeguard", "first_shared_at", "last_shared_at",
                                     "count"), packed[:7], strict=True)) for key, packed in entries.items()}
            for key, entry in reference_aggregate(ledger, batch, self.partners, now).items():
                old = entries.get(key)
                key = (key[0], sys.intern(key[1]), sys.intern(key[2]))
                if old is None:
                    self.by_subject.setdefault(key[0], set()).add(key)
                written_at = now if old is None else old[-1]
                terms = (_word(entry["purpose"]), entry["basis"], entry["region"], _word(entry["safeguard"]))
                write = write_now(old is None, old is not None and old[:4] != terms, written_at, now, RESOLUTION)
                entries[key] = (_word(entry["purpose"]), sys.intern(entry["basis"]), sys.intern(entry["region"]),
                                _word(entry["safeguard"]), sys.intern(entry["first_shared_at"]),
                                sys.intern(entry["last_shared_at"]), entry["count"], now if write else written_at)
                if write:
                    self.held.written(key)
                    self.stage(partition, record_key(key), orjson.dumps(entry))
                    staged += 1
                else:
                    self.held.hold(partition, key, written_at)
                pair = entry["partner"], entry["category"]
                added[pair] = added.get(pair, 0) + entry["count"] - (old[-2] if old is not None else 0)
        for (partner, category), count in added.items():
            assert self.on_share is not None
            self.on_share(partner, category, count)
        return staged


class Recording:
    """A store and what it wrote (as a flush would) and counted."""

    def __init__(self, kind: type[SharingStore], now: list[float]) -> None:
        self.counted: dict[tuple[str, str], int] = {}
        self.written: list[tuple[int, bytes, bytes | None]] = []
        self.store = kind("unused:9092", "privacy.sharing.v1", PARTNERS, clock=lambda: now[0],
                          on_share=self.count, sharing=Sharing(RESOLUTION))

    def count(self, partner: str, category: str, added: int) -> None:
        assert added > 0
        self.counted[partner, category] = self.counted.get((partner, category), 0) + added

    def take(self) -> list[tuple[int, bytes, bytes | None]]:
        pending, self.store._pending = self.store._pending, []
        self.written += pending
        return pending

    async def write_due(self) -> int:
        self.store.flush = self._flush   # type: ignore[method-assign]
        return await self.store.write_due()

    async def release(self, partitions: set[int]) -> None:
        self.store.flush = self._flush   # type: ignore[method-assign]
        await self.store.release(partitions)

    async def _flush(self) -> None:
        self.take()

    def state(self) -> tuple[Any, ...]:
        held = self.store.held
        return (self.store.partitions, self.store.by_subject, held.held, sorted(held._due), self.counted)


def partition_of(subject: str) -> int:
    return zlib.crc32(subject.encode()) % PARTITIONS


def restored(subjects: list[str]) -> dict[int, list[SimpleNamespace]]:
    """Ledger records of a third of the subjects, as a restore reads them."""
    found: dict[int, list[SimpleNamespace]] = {}
    for i, subject in enumerate(subjects[::3]):
        entry = sharing_entry(subject, "parcelco", CATEGORIES[i % 5], basis="contract", region="EU",
                              first_shared_at=T0 - 86_400 - i, last_shared_at=T0 - 3600, count=1 + i % 7,
                              purpose="order_fulfilment", safeguard="adequacy")
        found.setdefault(partition_of(subject), []).append(
            SimpleNamespace(key=record_key(entry_key(entry)), value=orjson.dumps(entry)))
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_share_stages_holds_and_counts_as_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    subjects = [f"cust-{i:04d}" for i in range(80)]
    now = [T0]
    new, ref = Recording(SharingStore, now), Recording(Reference, now)
    for partition, records in restored(subjects).items():
        new.store.load(partition, records)
        ref.store.load(partition, records)
    shared = staged = held_back = 0

    async def run() -> None:
        nonlocal shared, staged, held_back
        for batch_no in range(60):
            now[0] += rng.choice([0.0, 0.5, 1.0, 1.0, 5.0, 30.0, 200.0, 900.0, RESOLUTION, 2 * RESOLUTION + 0.125])
            if batch_no == 40:   # a new policy: the partners' terms change under both stores
                new.store.partners = ref.store.partners = dict(MOVED)
            batch = []
            for _ in range(rng.randrange(0, 120)):
                subject = rng.choice(subjects)
                partner = rng.choice(["parcelco", "paynow", "shipit", "gone"])
                categories = frozenset((c + ".")[:-1] for c in rng.sample(CATEGORIES, rng.randrange(0, 4)))
                batch.append((partition_of(subject), Share(subject, partner, categories)))
            shared += len(batch)
            got, expected = new.store.share(batch), ref.store.share(batch)
            assert got == expected
            assert new.take() == ref.take()   # keys and value bytes, in order
            staged += got
            held_back = max(held_back, new.store.held_back)
            assert new.state() == ref.state()
            if batch_no % 7 == 3:
                assert await new.write_due() == await ref.write_due()
                assert new.take() == ref.take()
            assert new.store.unwritten({0, 1, 2}) == ref.store.unwritten({0, 1, 2})
        for subject in subjects[:20]:
            assert sorted(map(orjson.dumps, new.store.of_subject(subject))) == sorted(
                map(orjson.dumps, ref.store.of_subject(subject)))
        await new.release({1})
        await ref.release({1})
        assert new.state() == ref.state() and new.written == ref.written
        await new.release({0, 2})
        await ref.release({0, 2})
        assert new.state() == ref.state() and new.written == ref.written
        assert new.store.held_back == 0

    asyncio.run(run())
    assert shared > 3000 and staged > 300 and held_back > 100   # the stream exercised both paths
    interned = [v for entries in new.store.partitions.values() for packed in entries.values() for v in packed[:6]]
    assert all(v is None or sys.intern(v) is v for v in interned)   # the words are shared, as before

    # the ledger both wrote restores the same entries
    last: dict[tuple[int, bytes], bytes | None] = {
        (partition, record.key): record.value
        for partition, records in restored(subjects).items() for record in records}
    for partition, key, value in new.written:
        last[partition, key] = value
    again = Recording(SharingStore, now)
    for (partition, key), value in last.items():
        again.store.load(partition, [SimpleNamespace(key=key, value=value)])
    for subject in subjects:
        assert sorted(map(orjson.dumps, again.store.of_subject(subject))) == sorted(
            map(orjson.dumps, new.store.of_subject(subject)))
