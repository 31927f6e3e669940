"""SharingStore without a broker: entries loaded from records, found by subject, aggregated, staged or held
back, dropped. (What it writes to the topic: tests/streams/test_ledger_resolution.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from processors.records import sharing_entry
from processors.sharing import Recipient, Share, Sharing, record_key
from processors.time import iso
from streams.state.sharing import SharingStore

T0, T1 = 1_795_253_400.0, 1_795_257_000.0
PARCELCO = Recipient("parcelco", "partners.parcelco.v1", "contract", "EU", "adequacy", "order_fulfilment")


def record(subject: str, category: str, count: int) -> SimpleNamespace:
    entry = sharing_entry(subject, "parcelco", category, basis="contract", region="EU", first_shared_at=T0,
                          last_shared_at=T0, count=count, purpose="order_fulfilment", safeguard="adequacy")
    return SimpleNamespace(key=record_key((subject, "parcelco", category)), value=orjson.dumps(entry))


def test_load_share_and_drop() -> None:
    counted: list[tuple[str, int]] = []
    now = [T0]
    store = SharingStore("unused:9092", "privacy.sharing.v1", {"parcelco": PARCELCO}, clock=lambda: now[0],
                         on_share=lambda partner, category, added: counted.append((category, added)),
                         sharing=Sharing(resolution_s=T1 - T0))
    store.load(0, [record("c1", "identity.name", 2), record("c2", "identity.name", 1),
                   SimpleNamespace(key=b"x", value=None)])
    store.load(1, [record("c3", "identity.name", 5)])
    now[0] = T1   # restored at T0 (as good as a write): a resolution later a change is written at once
    [loaded] = store.of_subject("c1")
    assert loaded == orjson.loads(record("c1", "identity.name", 2).value)   # the topic's record, field order too
    assert list(loaded) == list(orjson.loads(record("c1", "identity.name", 2).value))

    assert store.share([(0, Share("c1", "parcelco", frozenset({"identity.name", "contact.address"})))]) == 2
    entries = {e["category"]: e for e in store.of_subject("c1")}
    assert entries["identity.name"]["count"] == 3 and entries["identity.name"]["first_shared_at"] == loaded[
        "first_shared_at"]
    assert entries["contact.address"]["count"] == 1
    assert sorted(counted) == [("contact.address", 1), ("identity.name", 1)]
    staged = sorted(store._pending)
    assert [(p, k) for p, k, _ in staged] == [(0, b"c1|parcelco|contact.address"), (0, b"c1|parcelco|identity.name")]
    assert {orjson.loads(v or b"")["count"] for _, _, v in staged} == {1, 3}
    store._pending.clear()   # as a flush would

    # within the resolution of their last write: counted in memory, held back, not staged
    now[0] = T1 + 60
    assert store.share([(0, Share("c1", "parcelco", frozenset({"identity.name", "contact.address"})))] * 2) == 0
    assert store.pending == 0 and store.held_back == 2
    entries = {e["category"]: e for e in store.of_subject("c1")}
    assert (entries["identity.name"]["count"], entries["contact.address"]["count"]) == (5, 3)
    assert entries["identity.name"]["last_shared_at"] == iso(T1 + 60)   # the access export sees it all
    assert sorted(counted[-2:]) == [("contact.address", 2), ("identity.name", 2)]   # the metric counts all

    store.forget({0})
    assert store.of_subject("c1") == [] and store.of_subject("c2") == [] and store.pending == 0
    assert store.held_back == 0
    assert [e["count"] for e in store.of_subject("c3")] == [5]
