"""The sharing ledger's pure logic (processors/sharing.py): tables of shares in, entries out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.pipeline import TopicPipeline
from processors.policy import Policy
from processors.records import sharing_entry
from processors.sample import Traffic
from processors.schemas import SchemaCatalog
from processors.sharing import (
    Recipient,
    Share,
    aggregate,
    categories_of,
    entry_key,
    entry_of,
    partner_stores,
    recipients,
    terms_of,
)
from processors.time import iso

T0, T1 = 1_795_253_400.0, 1_795_257_000.0   # 2026-11-21 09:30 and 10:30 UTC
PARTNERS = {
    "parcelco": Recipient("parcelco", "partners.parcelco.v1", "contract", "EU", "adequacy", "order_fulfilment"),
    "paynow": Recipient("paynow", "partners.paynow.v1", "contract", "US", "scc", "payment", store="psp-db"),
}
NAME, ADDRESS, PAYMENT = "identity.name", "contact.address", "transaction.payment"


def entry(subject: str, partner: str, category: str, first: float, last: float, count: int) -> dict[str, Any]:
    p = PARTNERS[partner]
    return sharing_entry(subject, partner, category, basis=p.basis, region=p.region, first_shared_at=first,
                         last_shared_at=last, count=count, purpose=p.purpose, safeguard=p.safeguard)


def share(subject: str, partner: str, *categories: str) -> Share:
    return Share(subject, partner, frozenset(categories))


CASES: list[tuple[str, list[dict[str, Any]], list[Share], list[dict[str, Any]]]] = [
    # case, ledger before, shares of a batch at T1, the entries written
    ("nothing shared, nothing written", [], [], []),
    ("a first share: one entry per category",
     [], [share("c1", "parcelco", NAME, ADDRESS)],
     [entry("c1", "parcelco", NAME, T1, T1, 1), entry("c1", "parcelco", ADDRESS, T1, T1, 1)]),
    ("records of a batch are counted in one entry",
     [], [share("c1", "parcelco", NAME), share("c1", "parcelco", NAME, ADDRESS), share("c1", "parcelco", NAME)],
     [entry("c1", "parcelco", NAME, T1, T1, 3), entry("c1", "parcelco", ADDRESS, T1, T1, 1)]),
    ("a known entry keeps its first time, counts on, moves its last time",
     [entry("c1", "parcelco", NAME, T0, T0, 4)], [share("c1", "parcelco", NAME)],
     [entry("c1", "parcelco", NAME, T0, T1, 5)]),
    ("entries not shared again are not written",
     [entry("c1", "parcelco", NAME, T0, T0, 4), entry("c1", "paynow", PAYMENT, T0, T0, 1)],
     [share("c1", "paynow", PAYMENT)], [entry("c1", "paynow", PAYMENT, T0, T1, 2)]),
    ("subjects and partners are apart",
     [], [share("c1", "parcelco", NAME), share("c2", "parcelco", NAME), share("c1", "paynow", PAYMENT)],
     [entry("c1", "parcelco", NAME, T1, T1, 1), entry("c2", "parcelco", NAME, T1, T1, 1),
      entry("c1", "paynow", PAYMENT, T1, T1, 1)]),
    ("a record with no personal category leaves nothing", [], [share("c1", "paynow")], []),
    ("a partner no longer declared is not ledgered", [], [share("c1", "gone", NAME)], []),
]


TERMS = {name: terms_of(p) for name, p in PARTNERS.items()}


def line_of(entry: dict[str, Any]) -> tuple[Any, ...]:
    """An entry's values after its key, as a ledger holds them."""
    return tuple(entry.values())[3:]


@pytest.mark.parametrize(("case", "before", "shares", "written"), CASES, ids=[c[0] for c in CASES])
def test_aggregate(case: str, before: list[dict[str, Any]], shares: list[Share],
                   written: list[dict[str, Any]]) -> None:
    ledger = {entry_key(e): line_of(e) for e in before}
    copy = dict(ledger)
    changed = aggregate(ledger, shares, TERMS, iso(T1))
    entries = [entry_of(key, line) for key, line in changed.items()]
    assert sorted(entries, key=entry_key) == sorted(written, key=entry_key)
    assert [orjson.dumps(e) for e in sorted(entries, key=entry_key)] == [   # the record's field order too
        orjson.dumps(e) for e in sorted(written, key=entry_key)]
    assert ledger == copy   # the ledger handed in is not changed


def test_aggregate_reads_only_an_entrys_seven_values_of_a_line() -> None:
    """A store's lines carry more after them (streams/state/sharing.py: when last written)."""
    ledger = {("c1", "parcelco", NAME): (*line_of(entry("c1", "parcelco", NAME, T0, T0, 4)), T0)}
    assert aggregate(ledger, [share("c1", "parcelco", NAME)], TERMS, iso(T1)) == {
        ("c1", "parcelco", NAME): line_of(entry("c1", "parcelco", NAME, T0, T1, 5))}


def test_aggregate_keeps_the_order_first_shared() -> None:
    shares = [share("c2", "paynow", PAYMENT), share("c1", "parcelco", NAME), share("c2", "paynow", PAYMENT),
              share("c1", "gone", NAME), share("c0", "parcelco", NAME)]
    assert list(aggregate({}, shares, TERMS, iso(T1))) == [
        ("c2", "paynow", PAYMENT), ("c1", "parcelco", NAME), ("c0", "parcelco", NAME)]


def test_an_entry_takes_its_partners_terms_now() -> None:
    moved = {**TERMS, "parcelco": ("marketing", "consent", "US", "scc")}
    ledger = {("c1", "parcelco", NAME): line_of(entry("c1", "parcelco", NAME, T0, T0, 1))}
    [line] = aggregate(ledger, [share("c1", "parcelco", NAME)], moved, iso(T1)).values()
    assert line == ("marketing", "consent", "US", "scc", iso(T0), iso(T1), 2)


@pytest.mark.parametrize(("tags", "categories"), [
    ({}, set()),
    ({"customer.name": "identity.name:keep", "shipping_address.street": "contact.address:keep"},
     {NAME, ADDRESS}),
    ({"customer.email": "contact.email:drop", "order_id": "transaction.order:keep"}, {"transaction.order"}),
    ({"notes": "free_text:redact[contact.email,identity.name]"}, {"free_text"}),
    ({"customer.email": "contact.email:pseudonymize"}, {"contact.email"}),
])
def test_categories_of_a_published_record(tags: dict[str, str], categories: set[str]) -> None:
    assert categories_of(tags) == categories


def test_recipients_one_per_partner() -> None:
    entries = [entry("c1", "parcelco", NAME, T0, T0, 1), entry("c1", "parcelco", ADDRESS, T0 - 60, T1, 2),
               entry("c1", "paynow", PAYMENT, T1, T1, 1)]
    assert recipients(entries) == [
        {"partner": "parcelco", "categories": [ADDRESS, NAME], "first_shared_at": iso(T0 - 60),
         "last_shared_at": iso(T1), "basis": "contract", "region": "EU", "safeguard": "adequacy",
         "purpose": "order_fulfilment"},
        {"partner": "paynow", "categories": [PAYMENT], "first_shared_at": iso(T1), "last_shared_at": iso(T1),
         "basis": "contract", "region": "US", "safeguard": "scc", "purpose": "payment"},
    ]
    assert recipients([]) == []


def test_partner_stores_only_of_partners_that_received() -> None:
    assert partner_stores([], PARTNERS) == {}
    assert partner_stores([entry("c1", "parcelco", NAME, T0, T0, 1)], PARTNERS) == {"partner.parcelco": "parcelco"}
    assert partner_stores([entry("c1", "paynow", PAYMENT, T0, T0, 1), entry("c1", "paynow", NAME, T0, T0, 1)],
                          PARTNERS) == {"psp-db": "paynow"}
    gone = {**entry("c1", "parcelco", NAME, T0, T0, 1), "partner": "oldco"}
    assert partner_stores([gone], PARTNERS) == {"partner.oldco": "oldco"}


# --- the pipeline records a share per record published to a partner ---------------------------------

class View:
    """Every subject has a secret; ``gated`` subjects are held back from paynow."""

    def __init__(self, gated: set[str]) -> None:
        self.gated = gated

    def secret(self, subject: str, partition: int) -> bytes | None:
        return b"s" * 32

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> dict[str, str] | None:
        return {"partners.paynow.v1": "restrict"} if subject in self.gated else None


def test_the_pipeline_shares_what_each_partner_record_carries(catalog: SchemaCatalog, default_policy: Policy,
                                                              examples_dir: Path) -> None:
    traffic = Traffic(examples_dir, subjects=3, seed=5)
    orders = [traffic.order(p) for p in traffic.people]
    pipe = TopicPipeline(catalog, default_policy, "orders.v1", b"M" * 32)
    held = orders[0]["customer_id"]
    result = pipe.process([orjson.dumps(o) for o in orders], [7, 8, 9], View({held}))
    published = {(out.topic, out.index): orjson.loads(out.value) for out in result.outputs}
    expected = []
    for index, order in enumerate(orders):
        for partner in ("parcelco", "paynow"):
            record = published.get((f"partners.{partner}.v1", index))
            if partner == "paynow" and order["customer_id"] == held:
                assert record is None   # gated: not published, so not shared
                continue
            assert record is not None
            expected.append((7 + index, Share(order["customer_id"], partner,
                                              categories_of(record["lethe"]["tags"]))))
    assert sorted(result.shares, key=repr) == sorted(expected, key=repr)
    by_partner = {s.partner: s.categories for _, s in result.shares if s.subject != held}
    assert "identity.name" in by_partner["parcelco"] and "identity.name" not in by_partner["paynow"]
    assert not any(s.partner not in ("parcelco", "paynow") for _, s in result.shares)
