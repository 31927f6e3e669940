"""One partition's map of one kind of state, in memory (``LETHE_TABLE_STORE=memory://``, the default)
or in RocksDB (``rocksdb://``, needs ``rocksdict``): subject secrets, consent and rights requests.

A map's keys are bytes; its values are bytes (secrets) or JSON objects (consent, requests). In
memory a map is a dict holding the values themselves. In RocksDB each partition's map is a database
under ``<LETHE_DATA_DIR>/state/<app id>/w<K>/<kind>-p<N>`` (``w<K>``: this process's slot, see
:class:`Maps`) holding the bytes (JSON values are stored as
orjson bytes and decoded on each lookup): memory then grows with the partitions, not with the
subjects. As for the timer index (streams/state/timerdb.py) the changelog topic is the truth: a
database is wiped when it is opened and deleted when its partition goes.

Only the count of keys of a RocksDB map is kept in memory, so ``len`` never scans.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import orjson

from streams.settings import Settings

if TYPE_CHECKING:
    from rocksdict import Cache

V = TypeVar("V")
Json = dict[str, Any]


class StateMap(Protocol[V]):
    """What a store does with one partition's map: a plain dict, or a :class:`RocksMap`."""

    def get(self, key: bytes) -> V | None: ...
    def __setitem__(self, key: bytes, value: V) -> None: ...
    def pop(self, key: bytes, default: None) -> V | None: ...
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def items(self) -> Iterable[tuple[bytes, V]]: ...
    def values(self) -> Iterable[V]: ...


def _same(value: Any) -> Any:
    return value


class RocksMap(Generic[V]):
    """One partition's map in a RocksDB database of its own (wiped on open, deleted by :meth:`close`)."""

    def __init__(self, path: Path, cache: Cache | None = None, json: bool = False) -> None:
        from rocksdict import BlockBasedOptions, Options, Rdict, WriteOptions

        self.path = path
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        table = BlockBasedOptions()
        table.set_bloom_filter(10, False)   # a lookup of a key not held reads no data block
        if cache is not None:
            table.set_block_cache(cache)
        options.set_block_based_table_factory(table)
        options.set_write_buffer_size(16 << 20)
        options.set_max_write_buffer_number(2)
        self._db = Rdict(str(path), options)
        no_wal = WriteOptions()
        no_wal.disable_wal = True  # type: ignore[method-assign,assignment]   # never reopened: the changelog is the log
        self._db.set_write_options(no_wal)
        self._dumps: Callable[[Any], bytes] = orjson.dumps if json else _same
        self._loads: Callable[[bytes], Any] = orjson.loads if json else _same
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self._db.get(key) is not None

    def get(self, key: bytes) -> V | None:
        raw = self._db.get(key)
        if raw is None:
            return None
        decoded: V = self._loads(raw)
        return decoded

    def __setitem__(self, key: bytes, value: V) -> None:
        if self._db.get(key) is None:
            self._count += 1
        self._db.put(key, self._dumps(value))

    def pop(self, key: bytes, default: None) -> V | None:
        raw = self._db.get(key)
        if raw is None:
            return default
        self._db.delete(key)
        self._count -= 1
        decoded: V = self._loads(raw)
        return decoded

    def apply(self, changes: Iterable[tuple[bytes, bytes | None]],
              replaced: Callable[[bytes], None] | None = None) -> None:
        """Put or (value None) delete many keys in one write batch: how a restore loads records (their
        values are kept as read from the changelog, already encoded). ``replaced``: as for
        :meth:`Partitioned.load`, with the stored bytes."""
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        latest: dict[bytes, bytes | None] = {}   # keys of this batch: their value once it is written
        get = self._db.get
        count = self._count
        for key, value in changes:
            old = latest[key] if key in latest else get(key)
            if replaced is not None and old is not None and old != value:
                replaced(old)
            if value is None:
                if old is not None:
                    batch.delete(key)
                    count -= 1
            else:
                batch.put(key, value)
                count += old is None
            latest[key] = value
        self._db.write(batch)
        self._count = count

    def items(self) -> Iterator[tuple[bytes, V]]:
        loads = self._loads
        for key, raw in self._db.items():
            yield key, loads(raw)   # type: ignore[misc]   # raw mode: the key is bytes

    def values(self) -> Iterator[V]:
        loads = self._loads
        for raw in self._db.values():
            yield loads(raw)

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self.path, ignore_errors=True)


class Maps:
    """Makes the maps of each kind of state for a partition: dicts, or RocksDB databases under ``root``.

    Worker processes of one machine share the data dir (``lethe run --processes N``), and during a
    rebalance two of them may hold the same partition for a moment; so each process takes a slot of
    its own, ``root/w<K>``, locked for its lifetime (the lock goes with the process, even a killed
    one, and the next process to take the slot wipes what it left).
    """

    def __init__(self, root: Path | None = None, cache_mb: int = 64) -> None:
        self.root = root
        self._cache: Cache | None = None
        self._lock: int | None = None
        if root is not None:
            from rocksdict import Cache
            self.root, self._lock = _slot(root)
            self._cache = Cache(cache_mb << 20)   # one block cache for every map of the process

    @property
    def kind(self) -> str:
        return "memory" if self.root is None else "rocksdb"

    def raw(self, kind: str) -> Partitioned[bytes]:
        """The maps of ``kind`` by partition; values are bytes."""
        if self.root is None:
            return Partitioned(_in_memory)
        root, cache = self.root, self._cache
        return Partitioned(lambda partition: RocksMap(root / f"{kind}-p{partition}", cache))

    def json(self, kind: str) -> Partitioned[Json]:
        """The maps of ``kind`` by partition; values are JSON objects: held as they are in memory, as
        orjson bytes in RocksDB (decoded on each lookup)."""
        if self.root is None:
            return Partitioned(_in_memory, orjson.loads)
        root, cache = self.root, self._cache
        return Partitioned(lambda partition: RocksMap(root / f"{kind}-p{partition}", cache, json=True))


def _in_memory(partition: int) -> dict[bytes, Any]:
    return {}


def _slot(root: Path) -> tuple[Path, int]:
    """The first directory ``root/w<K>`` no running process holds, wiped, and its lock (held open)."""
    root.mkdir(parents=True, exist_ok=True)
    for k in itertools.count():
        fd = os.open(root / f"w{k}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        slot = root / f"w{k}"
        shutil.rmtree(slot, ignore_errors=True)
        return slot, fd
    raise AssertionError("unreachable")


def maps_of(settings: Settings) -> Maps:
    if settings.table_store.startswith("rocksdb://"):
        return Maps(settings.data_dir / "state" / settings.app_id)
    return Maps()


class Partitioned(dict[int, StateMap[V]]):
    """A store's maps by partition; ``self[p]`` makes partition ``p``'s map when it has none.

    In memory a map is a plain dict: one CPython's collector never traverses (a dict subclass it
    would, entry by entry, at every full collection). ``lookups`` holds each map's bound ``get`` in a
    plain dict, for the per-record lookups (calls on a dict and on a bound builtin are specialized).
    """

    __slots__ = ("decode", "lookups", "new")

    def __init__(self, new: Callable[[int], StateMap[V]], decode: Callable[[bytes], V] | None = None) -> None:
        super().__init__()
        self.new = new
        self.decode = decode   # how :meth:`load` decodes a changelog value into an in-memory map
        self.lookups: dict[int, Callable[[bytes], V | None]] = {}

    def __missing__(self, partition: int) -> StateMap[V]:
        made = self[partition] = self.new(partition)
        self.lookups[partition] = made.get
        return made

    def load(self, partition: int, changes: Iterable[tuple[bytes, bytes | None]],
             replaced: Callable[[bytes], None] | None = None) -> None:
        """Apply changelog records (value None: a tombstone) to the partition's map: what a restore
        and a catch-up do. RocksDB takes them in one write batch, as read (already encoded).
        ``replaced`` (maps of bytes only) is called with each value a record deletes or changes."""
        target = self[partition]
        if isinstance(target, RocksMap):
            target.apply(changes, replaced)
            return
        decode = self.decode
        for key, value in changes:
            if replaced is not None:
                old = target.get(key)
                if old is not None and old != value:
                    replaced(old)   # type: ignore[arg-type]   # a map of bytes
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value if decode is None else decode(value)   # type: ignore[assignment]

    def close(self, partition: int) -> None:
        """Let the partition's map go (a RocksDB database is deleted)."""
        self.lookups.pop(partition, None)
        held = self.pop(partition, None)
        if isinstance(held, RocksMap):
            held.close()

    def close_all(self) -> None:
        """The store stops: its RocksDB databases are closed and deleted (dicts stay, as they always did)."""
        for partition, held in list(self.items()):
            if isinstance(held, RocksMap):
                self.close(partition)
