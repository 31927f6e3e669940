"""Legal holds in force on the partitions a worker owns, replayed from ``legal-holds.v1``."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from processors.errors import InvalidRecord
from processors.inputs import Inputs
from processors.retention.holds import Holds
from processors.retention.timers import Timer
from streams.metrics import Metrics
from streams.state.base import PartitionedState

log = logging.getLogger(__name__)


class HoldStore(PartitionedState):
    """The legal holds in force on the partitions this worker owns (replayed from legal-holds.v1)."""

    what = "legal holds"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics, *, inputs: Inputs) -> None:
        super().__init__(bootstrap, topic, write=False)
        self.metrics, self.inputs = metrics, inputs
        self.partitions: dict[int, Holds] = {}

    def load(self, partition: int, records: list[Any]) -> None:
        # per hold id the last event wins (a place of a held id, a release of an unknown one, change
        # nothing), so a catch-up that reads events the state holds already is safe (streams/state/base.py)
        holds = self.partitions.setdefault(partition, Holds())
        for record in records:
            with contextlib.suppress(InvalidRecord):   # the HoldHandler dead-lettered it
                holds.apply(self.inputs.hold(record.value))

    def restored(self, partitions: list[int]) -> None:
        self.report()

    def drop(self, partition: int) -> None:
        self.partitions.pop(partition, None)
        self.report()

    def holding(self, timer: Timer) -> list[Any]:
        """The holds in force that cover ``timer`` (any owned partition: upstream may key loosely)."""
        found = []
        for holds in self.partitions.values():
            if holds.holding(timer):
                found += [h for h in holds.active.values()
                          if (h.order_id is not None and h.order_id == timer.order_id)
                          or (h.order_id is None and timer.subject and h.subject == timer.subject)]
        return found

    def report(self) -> None:
        self.metrics.holds_active.set(sum(len(h.active) for h in self.partitions.values()))
