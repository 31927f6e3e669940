"""A partition a rebalance gives back is caught up, not restored from the beginning (streams/state/base.py).

In process, on the embedded broker: a store sets its revoked partitions aside and, when they are
assigned again, reads its topic from where it last read it. What another worker wrote meanwhile
arrives (a secret shredded and one created, a timer fired, a hold released, a request completed);
a parked timer goes back to the index; a partition with unwritten changes, none known, or too long
aside is not kept. Through DirectIngest: a failed catch-up drops every kind's state of the partition
(all or nothing), a failed release drops that kind's, and the metric says full or catch_up.
Real workers rebalancing: tests/streams/test_rebalance_catch_up.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from support import own_topics

from processors.inputs import Inputs
from processors.retention.timers import Timer
from processors.schemas import SchemaCatalog, default_schema_dir
from processors.sharing import Recipient, Share, Sharing
from streams.broker import EmbeddedBroker
from streams.ingest import DirectIngest
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.base import PartitionedState, Restored
from streams.state.holds import HoldStore
from streams.state.requests import RequestStore, requests_topic
from streams.state.secrets import SecretStore, changelog_topic
from streams.state.sharing import SharingStore
from streams.state.timers import TimerStore, timers_topic

pytestmark = pytest.mark.integration

INPUTS = Inputs(SchemaCatalog.load(default_schema_dir()))
PARCELCO = Recipient("parcelco", "partners.parcelco.v1", "contract", "EU", "adequacy", "order_fulfilment")


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


async def started(*stores: PartitionedState) -> None:
    for store in stores:
        await store.start()


async def stopped(*stores: PartitionedState) -> None:
    for store in stores:
        await store.stop()


def timer(n: int, due: float) -> Timer:
    return Timer(f"logs/e{n}", "logs", "delete", "logs", "c1", f"e{n}", (), due)


def test_secrets_caught_up_hold_another_workers_shredding_and_new_secret(broker: EmbeddedBroker,
                                                                         tmp_path: Path) -> None:
    topic = changelog_topic(own_topics(broker.bootstrap, "cusecrets", tmp_path))
    let_go: list[bytes] = []
    a = SecretStore(broker.bootstrap, topic, Metrics(), let_go.append)
    b = SecretStore(broker.bootstrap, topic, Metrics())   # another worker

    async def scenario() -> dict[str, Any]:
        await started(a, b)
        try:
            first = await a.restore({0, 1})
            a.add(0, "c1", b"s1")
            a.add(0, "c2", b"s2")
            a.add(1, "c9", b"s9")
            await a.flush()
            kept = a.set_aside({0, 1})   # revoked
            aside = (set(a.owned), set(a.dormant), set(a.known))
            await b.restore({0})          # partition 0 is b's for a while
            b.shred(0, "c1")
            b.add(0, "c3", b"s3")
            await b.flush()
            back = await a.restore({0})   # assigned again
            a.forget(set(a.dormant) - {0})   # partition 1 was not: dropped
            return {"first": first, "kept": kept, "aside": aside, "back": back, "owned": set(a.owned),
                    "dormant": set(a.dormant), "known": dict(a.known)}
        finally:
            await stopped(a, b)

    seen = run(scenario)
    assert seen["first"] == Restored(full=[0, 1])
    assert seen["kept"] == {0, 1} and seen["aside"] == (set(), {0, 1}, {0, 1})
    # read from where a's restore stopped: its own two writes again, then b's tombstone and new secret
    assert seen["back"] == Restored(caught_up=[0], catch_up_records=4)
    assert (seen["owned"], seen["dormant"], seen["known"]) == ({0}, set(), {0: 4})
    assert a.partitions == {0: {b"c2": b"s2", b"c3": b"s3"}}
    assert let_go == [b"s1", b"s9"]   # the shredded secret's derived keys, then the dropped partition's


def test_a_secret_found_in_another_partition_is_not_copied_into_the_records_partition() -> None:
    store = SecretStore("unused:9092", "unused", Metrics())
    store.load(0, [SimpleNamespace(key=b"c1", value=b"s1")])
    store.load(1, [])
    assert store.secret_of("c1", 1) == b"s1" and store.partitions == {0: {b"c1": b"s1"}, 1: {}}


SET_ASIDE_CASES = {
    # case: (what happens before the revoke, partitions kept, how partition 0 comes back)
    "written": ("flush", {0}, "caught_up"),
    "staged, not written": ("stage", set(), "full"),
    "aside too long": ("expire", {0}, "full"),
}


@pytest.mark.parametrize("case", SET_ASIDE_CASES)
def test_only_a_partition_whose_state_the_topic_has_is_kept_and_only_for_a_while(
        broker: EmbeddedBroker, tmp_path: Path, case: str) -> None:
    before, kept, how = SET_ASIDE_CASES[case]
    topic = changelog_topic(own_topics(broker.bootstrap, "cuaside", tmp_path))
    store = SecretStore(broker.bootstrap, topic, Metrics())

    async def scenario() -> tuple[set[int], Restored]:
        await store.start()
        try:
            await store.restore({0})
            store.add(0, "c1", b"s1")
            await store.flush()
            store.add(0, "c2", b"s2")
            if before == "flush":
                await store.flush()
            if before == "expire":
                await store.flush()
                store.DORMANT_MAX_S = -1.0
            kept = store.set_aside({0, 3})   # 3 was never restored here
            return kept, await store.restore({0})
        finally:
            await store.stop()

    got_kept, back = run(scenario)
    assert got_kept == kept and store.pending == 0
    written = {"written": {b"c1": b"s1", b"c2": b"s2"}, "staged, not written": {b"c1": b"s1"},
               "aside too long": {b"c1": b"s1", b"c2": b"s2"}}[case]
    assert store.partitions == {0: written}
    if how == "full":
        assert back == Restored(full=[0], full_records=len(written))
    else:
        assert back == Restored(caught_up=[0], catch_up_records=2)


def test_timers_caught_up_lose_one_fired_elsewhere_and_unpark_a_held_one(broker: EmbeddedBroker,
                                                                       tmp_path: Path) -> None:
    topic = timers_topic(own_topics(broker.bootstrap, "cutimers", tmp_path))
    a, b = TimerStore(broker.bootstrap, topic, Metrics()), TimerStore(broker.bootstrap, topic, Metrics())
    now = time.time()

    async def scenario() -> tuple[Restored, list[str], int]:
        await started(a, b)
        try:
            await b.restore({0})   # the partition's previous owner
            for n, due in ((0, now - 60), (1, now + 60), (2, now + 3600)):
                b.schedule(0, timer(n, due))
            await b.flush()
            b.forget({0})
            await a.restore({0})
            for timer_id, _, raw in a.index(0).pop_due(now):   # a hold suspended it (Retention.tick)
                a.parked.setdefault(0, {})[str(timer_id)] = raw
            a.set_aside({0})
            await b.restore({0})
            b.stage(0, b"logs/e1", None)   # fired by b: tombstoned
            await b.flush()
            back = await a.restore({0})
            return back, sorted(str(t) for t, _, _ in a.index(0).items()), a.held_count()
        finally:
            await stopped(a, b)

    back, pending, parked = run(scenario)
    assert back == Restored(caught_up=[0], catch_up_records=1)   # b's tombstone, nothing before it
    assert pending == ["logs/e0", "logs/e2"] and parked == 0   # e0 back from parked, to be asked again


def hold(hold_id: str, action: str) -> bytes:
    return json.dumps({"hold_id": hold_id, "action": action, "occurred_at": "2026-11-21T09:30:00Z",
                       "customer_id": "c1", "order_id": None, "case_ref": "LIT-1"}).encode()


def test_holds_caught_up_apply_the_releases_and_places_since(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topic = own_topics(broker.bootstrap, "cuholds", tmp_path).topics.name("legal-holds.v1")
    store = HoldStore(broker.bootstrap, topic, Metrics(), inputs=INPUTS)

    async def scenario() -> Restored:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()

        async def send(*values: bytes) -> None:
            for value in values:
                await producer.send_and_wait(topic, value, key=b"c1", partition=0)

        try:
            await send(hold("h1", "place"), hold("h2", "place"))
            await store.restore({0})
            store.set_aside({0})
            await send(hold("h1", "release"), hold("h3", "place"), hold("h3", "release"), hold("h4", "place"))
            return await store.restore({0})
        finally:
            await producer.stop()

    back = run(scenario)
    assert back == Restored(caught_up=[0], catch_up_records=4)
    assert sorted(store.partitions[0].active) == ["h2", "h4"] and store.partitions[0].subjects == {"c1": 2}


def request(status: str) -> dict[str, Any]:
    return {"request_id": "r1", "subject": "c1", "type": "erase", "status": status, "commands": ["cmd-1"]}


def test_requests_caught_up_see_another_workers_completion(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topic = requests_topic(own_topics(broker.bootstrap, "curequests", tmp_path))
    a, b = RequestStore(broker.bootstrap, topic, Metrics()), RequestStore(broker.bootstrap, topic, Metrics())

    async def scenario() -> Restored:
        await started(a, b)
        try:
            await a.restore({0})
            a.save(0, request("in_progress"))
            await a.flush()
            a.set_aside({0})
            await b.restore({0})
            b.save(0, request("completed"))
            await b.flush()
            return await a.restore({0})
        finally:
            await stopped(a, b)

    back = run(scenario)
    assert back == Restored(caught_up=[0], catch_up_records=2)
    assert a.open == {} and (a.find("r1") or {})["status"] == "completed" and a.by_command == {"cmd-1": (0, "r1")}


def test_a_held_back_ledger_entry_keeps_its_partition_from_being_kept_until_released(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    topic = own_topics(broker.bootstrap, "culedger", tmp_path).topics.name("privacy.sharing.v1")
    now = [1_795_253_400.0]

    def ledger() -> SharingStore:
        return SharingStore(broker.bootstrap, topic, {"parcelco": PARCELCO}, clock=lambda: now[0],
                            sharing=Sharing(3600.0))

    released, crashed = ledger(), ledger()

    async def scenario() -> tuple[set[int], set[int]]:
        await started(released, crashed)
        try:
            kept = []
            for store, release in ((released, True), (crashed, False)):
                await store.restore({0})
                for _ in range(2):   # the second share is held back (within the resolution)
                    store.share([(0, Share("c1", "parcelco", frozenset({"identity.name"})))])
                    await store.flush()
                assert store.unwritten({0}) == {0}
                if release:
                    await store.release({0})
                kept.append(store.set_aside({0}))
            return kept[0], kept[1]
        finally:
            await stopped(released, crashed)

    assert run(scenario) == ({0}, set())
    assert crashed.partitions == {} and crashed.dormant == {}


class Breakable(TimerStore):
    what = "breakable timers"
    fail_load = fail_release = False

    def load(self, partition: int, records: list[Any]) -> None:
        if self.fail_load and records:
            raise RuntimeError("broken")
        super().load(partition, records)

    async def release(self, partitions: set[int], within: float | None = None) -> None:
        if self.fail_release:
            raise RuntimeError("broken")


def restored(metrics: Metrics, kind: str, how: str) -> float:
    return metrics.registry.get_sample_value("lethe_state_records_restored_total", {"kind": kind, "how": how}) or 0.0


def test_ingest_catch_up_is_all_or_nothing_and_a_failed_release_drops_that_kind(broker: EmbeddedBroker,
                                                                                tmp_path: Path) -> None:
    settings: Settings = own_topics(broker.bootstrap, "cuingest", tmp_path)
    metrics = Metrics()
    secrets = SecretStore(broker.bootstrap, changelog_topic(settings), metrics)
    timers = Breakable(broker.bootstrap, timers_topic(settings), metrics)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        ingest = DirectIngest(settings, broker.bootstrap, {}, [secrets, timers], metrics)
        await started(secrets, timers)
        try:
            await ingest.restore({0, 1})
            secrets.add(0, "c1", b"s1")
            timers.schedule(0, timer(1, time.time() + 3600))
            await secrets.flush()
            await timers.flush()
            await ingest.set_aside({0, 1})
            seen["aside"] = (ingest.rebalancing, set(secrets.dormant), set(timers.dormant))
            ingest.forget_dormant({0})   # the next assignment: partition 0 only
            timers.fail_load = True
            try:
                await ingest.restore({0})
            except RuntimeError:
                seen["failed"] = (ingest.rebalancing, set(secrets.owned), set(timers.owned))
            timers.fail_load = False
            seen["again"] = [await state.restore({0}) for state in (secrets, timers)]
            secrets.add(0, "c2", b"s2")
            await secrets.flush()
            timers.fail_release = True
            await ingest.set_aside({0})
            seen["broken release"] = (set(secrets.dormant), set(timers.dormant), set(timers.owned))
            await ingest.restore({0})
        finally:
            await stopped(secrets, timers)

    run(scenario)
    assert seen["aside"] == (True, {0, 1}, {0, 1})
    assert seen["failed"] == (False, set(), set())   # the secrets' good catch-up was dropped as well
    assert seen["again"] == [Restored(full=[0], full_records=1), Restored(full=[0], full_records=1)]
    assert seen["broken release"] == ({0}, set(), set())
    # counted by ingest's restores: the first (nothing to read) and the last (secrets caught up: c2)
    assert (restored(metrics, "subject_secrets", "full"), restored(metrics, "subject_secrets", "catch_up")) == (0, 1)
    assert restored(metrics, "breakable_timers", "full") == 1 and restored(metrics, "breakable_timers", "catch_up") == 0
