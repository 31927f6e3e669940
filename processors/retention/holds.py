"""Legal holds (policy section 3.1): the hold events of legal-holds.v1 and the holds in force.

While a hold is in force, the retention deadlines of its subject (or of the one order it names)
are suspended, not dropped. Hold events are decoded by processors/inputs.py; their audit records
are built in processors/records.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.retention.timers import Timer

HOLD_ACTIONS = ("place", "release")


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal-hold event (schemas/legal-holds.v1.avsc): on one subject, or one of its orders."""

    hold_id: str
    action: str
    subject: str
    order_id: str | None
    case_ref: str
    occurred_at: str


class Holds:
    """The legal holds in force for the subjects of one partition."""

    __slots__ = ("active", "orders", "subjects")

    def __init__(self) -> None:
        self.active: dict[str, Hold] = {}          # hold_id -> the place event
        self.subjects: dict[str, int] = {}         # subject -> holds on the whole subject
        self.orders: dict[str, int] = {}           # order_id -> holds on that order

    def apply(self, hold: Hold) -> bool:
        """Apply a place or release event; False if it changes nothing (a replay, an unknown id)."""
        if hold.action == "place":
            if hold.hold_id in self.active:
                return False
            self.active[hold.hold_id] = hold
            _bump(self.orders if hold.order_id else self.subjects, hold.order_id or hold.subject, 1)
            return True
        placed = self.active.pop(hold.hold_id, None)
        if placed is None:
            return False
        _bump(self.orders if placed.order_id else self.subjects, placed.order_id or placed.subject, -1)
        return True

    def holding(self, timer: Timer) -> bool:
        if timer.subject and timer.subject in self.subjects:
            return True
        order_id = timer.order_id
        return order_id is not None and order_id in self.orders

    def for_subject(self, subject: str) -> list[Hold]:
        return [h for h in self.active.values() if h.subject == subject]


def _bump(counts: dict[str, int], key: str, by: int) -> None:
    value = counts.get(key, 0) + by
    if value > 0:
        counts[key] = value
    else:
        counts.pop(key, None)
