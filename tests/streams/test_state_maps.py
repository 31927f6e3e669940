"""Subject secrets, consent and requests behave the same with LETHE_TABLE_STORE=memory:// and rocksdb://.

The maps are compared operation by operation; then each store is driven through the same steps
(restore, catch-up with more records, lookups across partitions, shredding, dropping a partition)
with either kind of map. No broker: a store that is not started only stages its writes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.consent import ConsentEvent, ConsentPolicy
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.consent import ConsentStore
from streams.state.maps import Maps, RocksMap, maps_of
from streams.state.requests import RequestStore
from streams.state.secrets import SecretStore

pytest.importorskip("rocksdict")   # the rocksdb extra; installed by scripts/setup (dev)

KINDS = ["memory", "rocksdb"]


@dataclass
class Record:
    key: bytes
    value: bytes | None


@pytest.fixture(params=KINDS)
def maps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Maps]:
    yield Maps() if request.param == "memory" else Maps(tmp_path / "state" / "app")


@pytest.mark.parametrize("json", [False, True])
def test_a_rocks_map_matches_a_dict_operation_by_operation(tmp_path: Path, json: bool) -> None:
    rng = random.Random(5)
    memory = Maps().json("kind") if json else Maps().raw("kind")
    rocks = Maps(tmp_path).json("kind") if json else Maps(tmp_path).raw("kind")

    def value(step: int) -> Any:
        return {"step": step, "purposes": ["a", "b"]} if json else f"v{step}".encode()

    for step in range(4000):
        key = f"subject-{rng.randrange(300)}".encode()
        op = rng.random()
        if op < 0.4:
            memory[0][key] = rocks[0][key] = value(step)
        elif op < 0.55:
            assert memory[0].pop(key, None) == rocks[0].pop(key, None)
        elif op < 0.7:   # a restore batch: repeated keys and tombstones, values as the changelog holds them
            changes = [(f"subject-{rng.randrange(300)}".encode(),
                        None if rng.random() < 0.3 else (orjson.dumps(value(i)) if json else value(i)))
                       for i in range(rng.randrange(1, 40))]
            gone: tuple[list[bytes], list[bytes]] = ([], [])   # values deleted or changed (a secret's keys go)
            memory.load(0, changes, None if json else gone[0].append)
            rocks.load(0, changes, None if json else gone[1].append)
            assert gone[0] == gone[1]
        assert memory[0].get(key) == rocks[0].get(key) == memory.lookups[0](key) == rocks.lookups[0](key)
        assert (key in memory[0]) == (key in rocks[0])
        assert len(memory[0]) == len(rocks[0])
    assert type(memory[0]) is dict and isinstance(rocks[0], RocksMap)   # in memory: a plain dict (see Partitioned)
    assert sorted(memory[0].items()) == sorted(rocks[0].items())
    assert sorted(memory[0].values(), key=repr) == sorted(rocks[0].values(), key=repr)
    where = rocks[0].path   # type: ignore[attr-defined]
    rocks.close(0)
    assert not where.exists() and rocks.lookups == {} and 0 not in rocks


def test_a_reopened_map_starts_empty(tmp_path: Path) -> None:
    first: RocksMap[bytes] = RocksMap(tmp_path / "secrets-p1")
    first[b"a"] = b"x"
    first._db.close()   # a worker killed: its files stay behind
    again: RocksMap[bytes] = RocksMap(tmp_path / "secrets-p1")   # rebuilt from the changelog, never trusted from disk
    assert len(again) == 0 and again.get(b"a") is None
    again.close()


def test_rocksdb_maps_live_under_the_data_dir_one_slot_per_process(tmp_path: Path) -> None:
    base = Settings.from_env({"LETHE_DATA_DIR": str(tmp_path), "LETHE_PSEUDONYM_KEY": "00" * 32})
    assert maps_of(base).kind == "memory"
    rocks = maps_of(dataclasses.replace(base, table_store="rocksdb://"))
    made = rocks.raw("secrets")
    made[3]
    where = tmp_path / "state" / base.app_id
    assert (where / "w0" / "secrets-p3").is_dir()
    other = maps_of(dataclasses.replace(base, table_store="rocksdb://"))   # another process of the machine
    assert other.root == where / "w1"
    made.close(3)
    assert not (where / "w0" / "secrets-p3").exists()


# -- subject secrets -------------------------------------------------------------------------------
def test_secrets_restore_catch_up_look_up_shred_and_drop(maps: Maps) -> None:
    forgotten: list[bytes] = []
    store = SecretStore("127.0.0.1:9", "unused", Metrics(), forgotten.append, maps)
    store.load(0, [Record(b"alice", b"s-alice"), Record(b"bob", b"s-bob"), Record(b"bob", None),
                   Record(b"carol", b"s-carol-1"), Record(b"carol", b"s-carol-2")])
    store.load(1, [Record(b"dave", b"s-dave")])
    store.load(0, [])
    assert store.size() == 2 + 1 and sorted(forgotten) == [b"s-bob", b"s-carol-1"]   # shredded, replaced
    forgotten.clear()
    store.load(0, [Record(b"bob", b"s-bob-2"), Record(b"alice", None), Record(b"carol", b"s-carol-2")])   # catch-up
    assert store.size() == 2 + 1 and forgotten == [b"s-alice"]   # carol's secret is the same: its keys stay
    assert store.secret_of("carol", 0) == b"s-carol-2" and store.secret_of("bob", 0) == b"s-bob-2"
    assert store.secret_of("alice", 0) is None
    # a loosely keyed record: the secret of another partition, not copied (its changelog is the truth)
    assert store.secret_of("dave", 0) == b"s-dave" and store.held_in("dave") == [1]
    assert store.size() == 3 and store.pending == 0
    store.add(1, "erin", b"s-erin")
    assert store.secret_of("erin", 1) == b"s-erin" and store.secret_of("erin", 0) == b"s-erin"
    assert store.pending == 1
    forgotten.clear()
    assert store.shred(0, "dave") is True
    assert store.held_in("dave") == [] and store.secret_of("dave", 1) is None and forgotten == [b"s-dave"]
    assert sorted(store._pending) == [(0, b"dave", None), (1, b"dave", None), (1, b"erin", b"s-erin")]
    assert store.shred(0, "nobody") is False
    forgotten.clear()
    store.forget({1})
    assert forgotten == [b"s-erin"] and store.size() == 2 and store.held_in("erin") == []
    assert store.pending == 2   # only partition 0's tombstones of dave and nobody are left to write
    store.partitions.close_all()


# -- consent ---------------------------------------------------------------------------------------
def _consent(subject: str, purpose: str, granted: bool, at: str) -> ConsentEvent:
    return ConsentEvent(f"e-{subject}-{purpose}-{at}", at, subject, purpose, granted, "v1", "test")


def test_consent_restore_record_move_and_erase(maps: Maps) -> None:
    outputs = {"orders.anonymized.v1": ["marketing"]}
    store = ConsentStore("127.0.0.1:9", "unused", Metrics(), ConsentPolicy(), "v1", outputs, maps=maps)
    assert store.gates("alice") == store.gates_without_state != {}
    assert store.record(0, _consent("alice", "marketing", True, "2026-01-01T00:00:00Z")) is True
    assert store.gates("alice") == {}
    state = store.state_of("alice")
    assert state is not None
    store.load(1, [Record(b"bob", orjson.dumps(state)), Record(b"carol", orjson.dumps(state)), Record(b"carol", None)])
    assert store.state_of("bob") == state and store.state_of("carol") is None
    store.put(1, "alice", state)   # one copy, in the partition named
    assert [len(store.partitions[p]) for p in (0, 1)] == [0, 2]
    store.record(1, _consent("alice", "marketing", False, "2026-02-01T00:00:00Z"))
    assert store.gates("alice") == store.gates_without_state
    store.erase(1, "alice")   # the refusal outlives the erasure
    kept = store.state_of("alice")
    assert kept is not None and kept["current"]["marketing"]["granted"] is False
    store.erase(1, "bob")   # nothing refused: nothing kept
    assert store.state_of("bob") is None
    store.drop(1)
    assert store.state_of("alice") is None and 1 not in store.partitions
    store.partitions.close_all()


# -- requests --------------------------------------------------------------------------------------
def _request(request_id: str, subject: str, kind: str, status: str, **more: Any) -> dict[str, Any]:
    return {"request_id": request_id, "subject": subject, "type": kind, "status": status, "commands": {},
            **more}


def test_requests_restore_index_and_drop(maps: Maps) -> None:
    store = RequestStore("127.0.0.1:9", "unused", Metrics(), maps)
    erase = _request("r1", "alice", "erasure", "in_progress", commands={"c1": "orders"})
    store.load(0, [Record(b"r1", orjson.dumps(erase)),
                   Record(b"r2", orjson.dumps(_request("r2", "alice", "restrict", "completed", outputs=["*"]))),
                   Record(b"r3", orjson.dumps(_request("r3", "bob", "access", "received",
                                                       export={"private_key": "k"})))])
    store.load(0, [Record(b"r3", orjson.dumps({"status": "completed", "export": {"written_id": "w3"}}))])   # merged
    store.load(1, [Record(b"r4", orjson.dumps(_request("r4", "carol", "object", "completed", outputs=["x"]))),
                   Record(b"r5", orjson.dumps(_request("r5", "carol", "erasure", "received"))), Record(b"r5", None)])
    assert store.find("r3") == _request("r3", "bob", "access", "completed", export={"written_id": "w3"})
    assert store.partition_of("r4") == 1 and store.partition_of("r5") is None and store.find("r5") is None
    assert [s["request_id"] for s in store.of_subject("alice")] == ["r1", "r2"]
    assert store.open_states() == [(0, erase)] and store.keyed_states() == []
    assert store.by_command == {"c1": (0, "r1"), "w3": (0, "r3")}
    assert set(store.gating) == {"alice", "carol"}
    assert store.blocked({"alice": 0}) != {} and store.blocked({"bob": 0}) == {}
    done = {**erase, "status": "completed"}
    store.save(0, done)
    assert store.get(0, "r1") == done and store.open_states() == [] and store.pending == 1
    assert sorted(s["request_id"] for _, s in store.states()) == ["r1", "r2", "r3", "r4"]
    store.forget({0})
    assert store.by_command == {} and set(store.gating) == {"carol"} and store.of_subject("alice") == []
    assert store.find("r1") is None and store.pending == 0
    store.partitions.close_all()
