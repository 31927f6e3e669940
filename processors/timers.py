"""A timer index whose cost per tick grows with the timers due, not with the timers pending.

Pure data structure for retention deadlines (issue 3): a binary heap of (due, sequence, id) with
a dict id -> (due, payload) as the truth. Rescheduling or cancelling leaves the old heap entry in
place and marks it stale by the dict; stale entries are skipped when they surface, and the heap is
rebuilt when they outnumber the live ones, so memory stays proportional to the pending timers.

``schedule`` is O(log n), ``cancel`` O(1), ``pop_due(now)`` O(k log n) for k timers due. Firing is
"once in effect" by construction: a popped timer is gone from the index.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any


class TimerIndex:
    __slots__ = ("_heap", "_live", "_sequence")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._live: dict[Hashable, tuple[float, int, Any]] = {}
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, timer_id: Hashable) -> bool:
        return timer_id in self._live

    def schedule(self, timer_id: Hashable, due: float, payload: Any = None) -> None:
        """Add a timer, or move an existing one to a new deadline (the payload is replaced)."""
        self._sequence += 1
        self._live[timer_id] = (due, self._sequence, payload)
        heapq.heappush(self._heap, (due, self._sequence, timer_id))
        if len(self._heap) > 2 * len(self._live) + 1024:
            self._compact()

    def due_of(self, timer_id: Hashable) -> float | None:
        entry = self._live.get(timer_id)
        return entry[0] if entry is not None else None

    def payload_of(self, timer_id: Hashable) -> Any:
        entry = self._live.get(timer_id)
        return entry[2] if entry is not None else None

    def items(self) -> list[tuple[Hashable, float, Any]]:
        """Every pending timer (a full scan: for exports, never on the firing path)."""
        return [(timer_id, due, payload) for timer_id, (due, _, payload) in self._live.items()]

    def cancel(self, timer_id: Hashable) -> bool:
        return self._live.pop(timer_id, None) is not None

    def next_due(self) -> float | None:
        self._drop_stale_head()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Hashable, float, Any]]:
        """Remove and return the timers due at ``now`` (earliest first), at most ``limit``."""
        fired: list[tuple[Hashable, float, Any]] = []
        heap, live = self._heap, self._live
        while heap and heap[0][0] <= now and (limit is None or len(fired) < limit):
            due, sequence, timer_id = heapq.heappop(heap)
            entry = live.get(timer_id)
            if entry is None or entry[1] != sequence:
                continue  # cancelled or rescheduled
            del live[timer_id]
            fired.append((timer_id, due, entry[2]))
        return fired

    def _drop_stale_head(self) -> None:
        heap, live = self._heap, self._live
        while heap:
            _, sequence, timer_id = heap[0]
            entry = live.get(timer_id)
            if entry is not None and entry[1] == sequence:
                return
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(due, sequence, timer_id) for timer_id, (due, sequence, _) in self._live.items()]
        heapq.heapify(self._heap)
