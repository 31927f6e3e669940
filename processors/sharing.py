"""The sharing ledger (policy section 4; GDPR Art. 15(1)(c) and 19): which partner received which data
categories of a subject, when first and last, how many records. Pure: shares in, changed entries out
(:func:`aggregate`, as lines of values a store keeps; :func:`entry_of` makes one a record).

An entry (``processors.records.sharing_entry``, schemas/privacy.sharing.v1.avsc) is kept per subject,
partner and category, so the ledger's size is bounded by subjects x partners x categories however
many records are shared. Its write volume is bounded in time: a batch writes the entries it creates at
once, and an entry whose count and last time moved at most once per the policy's ``[sharing]
resolution`` (:func:`write_now`, :class:`HeldBack`; streams/state/sharing.py keeps the entries of the
partitions a worker owns and writes them). Erasure and
rectification are sent to the stores of the partners the ledger lists for the subject
(:func:`partner_stores`); the access export lists them (:func:`recipients`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from processors.errors import PolicyError
from processors.retention.rules import parse_duration

if TYPE_CHECKING:
    from processors.policy import Policy

Key = tuple[str, str, str]   # (subject, partner, category)
Entry = dict[str, Any]       # a privacy.sharing.v1 record
Terms = tuple[str | None, str, str, str | None]   # (purpose, basis, region, safeguard) it was shared on
# an entry's values after its key, in the record's order: its terms, first_shared_at, last_shared_at, count
Line = tuple[str | None, str, str, str | None, str, str, int]


@dataclass(frozen=True)
class Recipient:
    """A partner as the ledger and the rights requests see it (the policy's [partners.<name>])."""

    name: str
    output: str                 # the canonical topic its records are published on (partners.<name>.v1)
    basis: str
    region: str
    safeguard: str = "none"
    purpose: str | None = None
    store: str = ""             # the store agent that acks its commands; default partner.<name>

    @property
    def store_name(self) -> str:
        return self.store or f"partner.{self.name}"

    @property
    def commands_topic(self) -> str:
        """Canonical topic of the erasure and rectification commands for this partner."""
        return commands_topic(self.name)


def recipients_of(policy: Policy) -> dict[str, Recipient]:
    """The policy's partners (processors/partners.py) as the ledger sees them."""
    return {name: Recipient(name, p.topic, p.basis, p.region, p.safeguard, p.purpose, p.store)
            for name, p in policy.partners.items()}


def commands_topic(partner: str) -> str:
    return f"partners.{partner}.commands.v1"


@dataclass(frozen=True)
class Sharing:
    """The policy's ``[sharing]``: how the ledger is written.

        [sharing]
        resolution = "1h"   # an entry whose count and last time moved is written at most once per this
    """

    resolution_s: float = 3600.0


def parse_sharing(raw: Any, origin: str) -> Sharing:
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [sharing] must be a table")
    extra = set(raw) - {"resolution"}
    if extra:
        raise PolicyError(f"policy {origin}: [sharing]: unknown key(s) {', '.join(sorted(extra))}")
    try:
        return Sharing(parse_duration(raw.get("resolution", "1h")))
    except ValueError as exc:
        raise PolicyError(f"policy {origin}: sharing.resolution = {raw.get('resolution')!r}: {exc}") from None


@dataclass(frozen=True)
class Share:
    """One record of ``subject`` published to ``partner``, carrying ``categories``."""

    subject: str
    partner: str
    categories: frozenset[str]


def categories_of(tags: Mapping[str, str]) -> frozenset[str]:
    """The data categories present in a published record, from its tags (path -> ``category:strategy``,
    a redacting op's findings in brackets): every tagged field not dropped. What a redaction found and
    removed from free text is not shared, so it is not counted."""
    present = set()
    for tag in tags.values():
        category, _, strategy = tag.split("[", 1)[0].partition(":")
        if strategy != "drop":
            present.add(category)
    return frozenset(present)


def entry_key(entry: Mapping[str, Any]) -> Key:
    return entry["subject"], entry["partner"], entry["category"]


def record_key(key: Key) -> bytes:
    """The ledger topic's record key: compaction keeps the last entry per subject, partner, category."""
    return "|".join(key).encode()


def terms_of(partner: Recipient) -> Terms:
    """What an entry says of the terms it was shared on, as ``partner`` declares them now."""
    return partner.purpose, partner.basis, partner.region, partner.safeguard


def aggregate(ledger: Mapping[Key, Sequence[Any]], shares: Iterable[Share], terms: Mapping[str, Terms],
              now: str) -> dict[Key, Line]:
    """The entries ``shares`` create or change, as their new lines, in the order first shared (``ledger``,
    key -> line, is not changed; its lines may carry more values after the seven of an entry).

    One entry per (subject, partner, category): its count grows by the records carrying the category,
    its last time is ``now`` (written by processors.time.iso), its terms (:func:`terms_of`) are the
    partner's now; its first time stays. A share for a partner the policy no longer declares (not in
    ``terms``) is ignored.
    """
    counts: dict[Key, int] = {}
    for share in shares:
        partner = share.partner
        if partner in terms:
            subject = share.subject
            for category in share.categories:
                key = (subject, partner, category)
                counts[key] = counts.get(key, 0) + 1
    changed: dict[Key, Line] = {}
    for key, n in counts.items():
        old = ledger.get(key)
        changed[key] = (terms[key[1]] + (now, now, n) if old is None
                        else terms[key[1]] + (old[4], now, old[6] + n))
    return changed


def entry_of(key: Key, line: Sequence[Any]) -> Entry:
    """The ledger record of an entry (processors.records.sharing_entry's fields, in its order) from its key
    and line (values after the seven of an entry are not the record's)."""
    subject, partner, category = key
    return {"subject": subject, "partner": partner, "category": category, "purpose": line[0], "basis": line[1],
            "region": line[2], "safeguard": line[3], "first_shared_at": line[4], "last_shared_at": line[5],
            "count": line[6]}


def write_now(created: bool, terms_changed: bool, written_at: float, now: float, resolution_s: float) -> bool:
    """Whether an entry a batch creates or changes is written with the batch, before its records reach
    the partner; otherwise it is held back (:class:`HeldBack`).

    A new entry always is: no partner may hold a record the ledger does not know of. So is one whose
    terms (purpose, basis, region, safeguard) changed with the policy. One whose count and last time
    alone moved is written once ``resolution_s`` has passed since its last write (``written_at``).
    """
    return created or terms_changed or now - written_at >= resolution_s


class HeldBack:
    """The entries changed since their last write and not written yet, each due ``resolution_s`` after
    that write. Bookkeeping only: the caller writes what it takes (:meth:`due`, :meth:`of_partitions`)."""

    def __init__(self, resolution_s: float) -> None:
        self.resolution_s = resolution_s
        self.held: dict[Key, tuple[int, float]] = {}   # key -> (partition, due)
        # a heap of (due, key); an item whose entry was written since is passed over when it comes up
        self._due: list[tuple[float, Key]] = []

    def __len__(self) -> int:
        return len(self.held)

    def hold(self, partition: int, key: Key, written_at: float) -> None:
        """An entry written at ``written_at`` changed; it stays due when it was first held since."""
        if key not in self.held:
            due = written_at + self.resolution_s
            self.held[key] = (partition, due)
            heapq.heappush(self._due, (due, key))

    def written(self, key: Key) -> None:
        """The entry was written with its batch: nothing of it is held back any more."""
        self.held.pop(key, None)

    def due(self, now: float) -> list[tuple[int, Key]]:
        """Take the held entries whose time has come, as (partition, key), for writing."""
        taken = []
        while self._due and self._due[0][0] <= now:
            due, key = heapq.heappop(self._due)
            found = self.held.get(key)
            if found is not None and found[1] == due:
                del self.held[key]
                taken.append((found[0], key))
        return taken

    def of_partitions(self, partitions: set[int]) -> list[tuple[int, Key]]:
        """Take the held entries of ``partitions`` whatever their time (a revoke, a clean stop)."""
        taken = [(partition, key) for key, (partition, _) in self.held.items() if partition in partitions]
        for _, key in taken:
            del self.held[key]
        return taken


def recipients(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The recipients of a subject's data for its access export, one per partner (by name): the
    categories it received, first and last shared, and the basis, region and safeguard of the last share."""
    by_partner: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: (e["partner"], e["last_shared_at"], e["category"])):
        found = by_partner.get(entry["partner"])
        if found is None:
            found = by_partner[entry["partner"]] = {
                "partner": entry["partner"], "categories": [], "first_shared_at": entry["first_shared_at"],
                "last_shared_at": entry["last_shared_at"]}
        found["categories"].append(entry["category"])
        found["first_shared_at"] = min(found["first_shared_at"], entry["first_shared_at"])
        found["last_shared_at"] = entry["last_shared_at"]   # sorted: the last one is the latest
        found.update(basis=entry["basis"], region=entry["region"], safeguard=entry.get("safeguard"),
                     purpose=entry.get("purpose"))
    for found in by_partner.values():
        found["categories"] = sorted(set(found["categories"]))
    return [by_partner[name] for name in sorted(by_partner)]


def partner_stores(entries: Iterable[Mapping[str, Any]], partners: Mapping[str, Recipient]) -> dict[str, str]:
    """Store agent -> partner, for every partner the ledger says received the subject's data (a partner
    no longer in the policy keeps its default store name ``partner.<name>``)."""
    stores = {}
    for name in sorted({e["partner"] for e in entries}):
        partner = partners.get(name)
        stores[partner.store_name if partner else f"partner.{name}"] = name
    return stores
