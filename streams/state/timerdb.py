"""A timer index in RocksDB (``rocksdict``), for more pending deadlines than memory holds.

Same interface as :class:`processors.timers.TimerIndex`. RocksDB keeps keys sorted, so the
deadlines are keys ``b"d" + big-endian due + b"\\0" + timer id`` (value: the timer) and a tick
reads from the first key until the first deadline in the future: its cost grows with the timers
due, not with the timers pending. ``b"i" + timer id -> due`` finds a timer's entry to move or
cancel it.

The database is rebuilt from the changelog topic when its partition is assigned (the changelog
is the truth; see streams/state/base.py), so it is wiped on open and deleted when the partition
goes. Only the count of timers is kept in memory.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from rocksdict import Options, Rdict, WriteBatch

_DUE = struct.Struct(">d")


class RocksTimerIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._options = Options(raw_mode=True)
        self._db = Rdict(str(path), self._options)
        self._count = 0
        # no deadline before this one is left: scans start here, not at the first key, so they do
        # not step over the delete markers of fired timers that compaction has not removed yet
        self._floor = 0.0

    def close(self, destroy: bool = True) -> None:
        self._db.close()
        if destroy:
            shutil.rmtree(self.path, ignore_errors=True)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, timer_id: Hashable) -> bool:
        return self._db.get(b"i" + str(timer_id).encode()) is not None

    def schedule(self, timer_id: Hashable, due: float, payload: Any = None) -> None:
        key = str(timer_id).encode()
        old = self._db.get(b"i" + key)
        batch = WriteBatch(raw_mode=True)
        if old is None:
            self._count += 1
        else:
            batch.delete(b"d" + old + b"\0" + key)
        due = max(due, 0.0)
        self._floor = min(self._floor, due)
        packed = _DUE.pack(due)
        batch.put(b"i" + key, packed)
        batch.put(b"d" + packed + b"\0" + key, payload if payload is not None else b"")
        self._db.write(batch)

    def cancel(self, timer_id: Hashable) -> bool:
        key = str(timer_id).encode()
        old = self._db.get(b"i" + key)
        if old is None:
            return False
        batch = WriteBatch(raw_mode=True)
        batch.delete(b"i" + key)
        batch.delete(b"d" + old + b"\0" + key)
        self._db.write(batch)
        self._count -= 1
        return True

    def due_of(self, timer_id: Hashable) -> float | None:
        packed = self._db.get(b"i" + str(timer_id).encode())
        return None if packed is None else float(_DUE.unpack(packed)[0])

    def payload_of(self, timer_id: Hashable) -> Any:
        key = str(timer_id).encode()
        packed = self._db.get(b"i" + key)
        return None if packed is None else self._db.get(b"d" + packed + b"\0" + key)

    def items(self) -> list[tuple[Hashable, float, Any]]:
        """Every pending timer (a full scan: for exports, never on the firing path)."""
        found: list[tuple[Hashable, float, Any]] = []
        it = self._db.iter()
        it.seek(b"d")
        while it.valid():
            key = it.key()
            if key[:1] != b"d":
                break
            found.append((key[10:].decode(), float(_DUE.unpack(key[1:9])[0]), it.value()))
            it.next()
        del it
        return found

    def next_due(self) -> float | None:
        it = self._db.iter()
        it.seek(self._start())
        key = it.key() if it.valid() else None
        del it
        return float(_DUE.unpack(key[1:9])[0]) if key is not None and key[:1] == b"d" else None

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Hashable, float, Any]]:
        """Remove and return the timers due at ``now`` (earliest first), at most ``limit``."""
        fired: list[tuple[Hashable, float, Any]] = []
        batch = WriteBatch(raw_mode=True)
        it = self._db.iter()
        it.seek(self._start())
        while it.valid() and (limit is None or len(fired) < limit):
            key = it.key()
            if key[:1] != b"d":
                break
            due = float(_DUE.unpack(key[1:9])[0])
            if due > now:
                break
            timer_id = key[10:]
            fired.append((timer_id.decode(), due, it.value()))
            batch.delete(key)
            batch.delete(b"i" + timer_id)
            it.next()
        del it
        if fired:
            self._db.write(batch)
            self._count -= len(fired)
            self._floor = max(self._floor, float(fired[-1][1]))
        return fired

    def _start(self) -> bytes:
        return b"d" + _DUE.pack(self._floor)
