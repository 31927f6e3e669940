"""The sharing ledger's resolution on the embedded broker (docs/sharing.md, "Sharing ledger and erasure").

In process, on a fake clock: N shares of one entry within the resolution write it once; the held-back
change is written when the resolution has passed, or at once by the next share after it; a revoke and
a clean stop write what is held back; a crash loses held counts, never an entry. Then on real workers:
a rebalance and a SIGTERM write every held-back entry before the partitions go.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import REPO, Worker, own_topics, unique_prefix, wait_for, wait_for_assignment

from processors.sample import Traffic
from processors.sharing import Recipient, Share, Sharing
from streams.broker import EmbeddedBroker
from streams.client import publish, read
from streams.state.sharing import SharingStore

pytestmark = pytest.mark.integration

HOUR = 3600.0
T0 = 1_795_253_400.0   # 2026-11-21 09:30 UTC
NAME, ADDRESS = "identity.name", "contact.address"
PARCELCO = Recipient("parcelco", "partners.parcelco.v1", "contract", "EU", "adequacy", "order_fulfilment")


def history(bootstrap: str, topic: str) -> dict[str, list[int]]:
    """Every ledger record written, in order: key -> the counts it carried."""
    counts: dict[str, list[int]] = {}
    for record in read(bootstrap, [topic], timeout=20, idle=1.5):
        counts.setdefault((record.key or b"").decode(), []).append(json.loads(record.value or b"{}")["count"])
    return counts


def test_n_shares_within_the_resolution_write_once_and_revoke_and_stop_write_the_rest(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    topic = own_topics(broker.bootstrap, "ledres", tmp_path).topics.name("privacy.sharing.v1")
    now = [T0]

    def store() -> SharingStore:
        return SharingStore(broker.bootstrap, topic, {"parcelco": PARCELCO}, clock=lambda: now[0],
                            sharing=Sharing(HOUR))

    async def batch(ledger: SharingStore, at: float, *shares: tuple[int, str, str]) -> int:
        """One input batch at ``at``: its shares (partition, subject, category), written as a worker would."""
        now[0] = at
        staged = ledger.share([(p, Share(subject, "parcelco", frozenset({category})))
                               for p, subject, category in shares])
        await ledger.flush()
        return staged

    async def run() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        ledger = store()
        await ledger.start()
        await ledger.restore({0, 1})
        n = 50
        seen["within"] = [await batch(ledger, T0 + i, (0, "c1", NAME)) for i in range(n)]
        seen["c2"] = [await batch(ledger, T0, (1, "c2", NAME)), await batch(ledger, T0 + 10, (1, "c2", NAME))]
        seen["held"] = ledger.held_back
        seen["due"] = [await _at(now, T0 + HOUR / 2, ledger.write_due), await _at(now, T0 + HOUR, ledger.write_due)]
        seen["across"] = [await batch(ledger, T0 + HOUR + 10, (0, "c1", NAME)),    # held: written at T0 + 1h
                          await batch(ledger, T0 + 2 * HOUR + 10, (0, "c1", NAME))]   # a resolution since
        seen["mixed"] = [await batch(ledger, T0 + 2 * HOUR + 20, (0, "c1", NAME), (1, "c2", NAME)),   # c2 due
                         await batch(ledger, T0 + 2 * HOUR + 30, (1, "c2", NAME))]
        seen["before release"] = ledger.held_back
        await ledger.release({0})   # partition 0 revoked
        seen["after revoke"] = ledger.held_back
        await ledger.release(set(ledger.owned))   # the worker stops cleanly
        seen["after stop"] = ledger.held_back
        seen["c3"] = [await batch(ledger, T0 + 2 * HOUR + 40, (0, "c3", ADDRESS)),
                      await batch(ledger, T0 + 2 * HOUR + 50, (0, "c3", ADDRESS))]
        await ledger.stop()   # a crash: c3's second share is held back and never written

        restored = store()
        await restored.restore({0, 1})
        seen["restored"] = {subject: [(e["category"], e["count"]) for e in restored.of_subject(subject)]
                            for subject in ("c1", "c2", "c3")}
        return seen

    seen = asyncio.run(run())
    assert seen["within"] == [1] + [0] * 49   # the new entry at once, the 49 changes held back
    assert seen["c2"] == [1, 0] and seen["held"] == 2
    assert seen["due"] == [0, 2]               # not before the resolution has passed; then both
    assert seen["across"] == [0, 1] and seen["mixed"] == [1, 0]
    assert (seen["before release"], seen["after revoke"], seen["after stop"]) == (2, 1, 0)
    assert seen["c3"] == [1, 0]
    assert history(broker.bootstrap, topic) == {
        "c1|parcelco|identity.name": [1, 50, 52, 53],
        "c2|parcelco|identity.name": [1, 2, 3, 4],
        "c3|parcelco|contact.address": [1],
    }
    # restored from the topic: every entry, and every count but the crashed store's held-back one
    assert seen["restored"] == {"c1": [(NAME, 53)], "c2": [(NAME, 4)], "c3": [(ADDRESS, 1)]}


async def _at(now: list[float], at: float, step: Callable[[], Any]) -> Any:
    now[0] = at
    return await step()


def test_a_rebalance_and_a_clean_stop_write_the_held_back_entries(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """With the shipped resolution (1h), a second order within it is held back until the partitions move."""
    prefix = unique_prefix("ledstop")
    traffic = Traffic(REPO / "schemas" / "examples", subjects=8, seed=3)
    people = traffic.people
    ledger_topic, parcelco = prefix + "privacy.sharing.v1", prefix + "partners.parcelco.v1"

    def names() -> dict[str, list[int]]:
        return {key: counts for key, counts in history(broker.bootstrap, ledger_topic).items()
                if key.endswith("|parcelco|identity.name")}

    def send_orders() -> None:
        publish(broker.bootstrap, [(prefix + "orders.v1", p.customer_id.encode(), json.dumps(traffic.order(p)).encode())
                                   for p in people])

    def shared(records: int) -> Callable[[], bool]:
        return lambda: len(list(read(broker.bootstrap, [parcelco], expect=records, timeout=10))) >= records

    first = Worker(broker.bootstrap, prefix, tmp_path).start()
    second = Worker(broker.bootstrap, prefix, tmp_path)
    try:
        wait_for_assignment([first])
        send_orders()
        wait_for(lambda: {k: v[-1] for k, v in names().items()} == {f"{p.customer_id}|parcelco|identity.name": 1
                                                                    for p in people}, 60, "the new entries")
        send_orders()   # a second batch within the resolution: counted, held back
        wait_for(shared(2 * len(people)), 60, "the second orders at parcelco")
        assert all(counts == [1] for counts in names().values())

        second.start()   # a rebalance: the first worker writes what it holds before its partitions go
        wait_for_assignment([first, second])
        assert names() == {f"{p.customer_id}|parcelco|identity.name": [1, 2] for p in people}

        send_orders()   # the third order of each: held back by whichever worker owns its subject
        wait_for(shared(3 * len(people)), 60, "the third orders at parcelco")
        assert all(counts == [1, 2] for counts in names().values())
    finally:
        codes = (first.stop(), second.stop())   # SIGTERM: a clean stop writes what is held back
    assert codes == (0, 0), (first.log()[-2000:], second.log()[-2000:])
    assert names() == {f"{p.customer_id}|parcelco|identity.name": [1, 2, 3] for p in people}
