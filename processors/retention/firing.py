"""What due retention timers yield (policy section 3.1): pure, so the firing loop in
streams/retention.py only pops timers, publishes, and persists what this returns.

A timer no legal hold covers fires: its lifecycle command and audit record are published on its
partition (store agents ack on the command's partition), and it is tombstoned once the broker has
both. A timer a hold covers is parked (kept, not tombstoned) until a release puts it back, and its
suspension is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.records import command_audit, command_for, held_audit
from processors.retention.holds import Hold
from processors.retention.timers import Timer


@dataclass(frozen=True)
class Fired:
    partition: int
    timer: Timer
    command: dict[str, Any]   # lifecycle.commands.v1
    audit: dict[str, Any]     # privacy.audit.v1
    lateness: float           # seconds past its deadline

    @property
    def key(self) -> str:
        return self.timer.subject or self.timer.record_key


@dataclass(frozen=True)
class Suspended:
    partition: int
    timer: Timer
    audit: dict[str, Any]     # privacy.audit.v1 (published on the key's partition)

    @property
    def key(self) -> str:
        return self.timer.subject or self.timer.record_key


@dataclass(frozen=True)
class Firing:
    fired: list[Fired] = field(default_factory=list)
    suspended: list[Suspended] = field(default_factory=list)

    @property
    def tombstone(self) -> list[tuple[int, str]]:
        """(partition, timer id) of the timers done with, once their records are published."""
        return [(f.partition, f.timer.timer_id) for f in self.fired]

    @property
    def park(self) -> list[tuple[int, str]]:
        """(partition, timer id) of the timers to keep until a release."""
        return [(s.partition, s.timer.timer_id) for s in self.suspended]


def fire(due: Sequence[tuple[int, Timer, Sequence[Hold]]], now: float) -> Firing:
    """``due``: (partition, timer, the holds in force covering it) of each timer popped at ``now``."""
    fired: list[Fired] = []
    suspended: list[Suspended] = []
    for partition, timer, holds in due:
        if holds:
            suspended.append(Suspended(partition, timer, held_audit(timer, holds, now)))
            continue
        command = command_for(timer, now)
        lateness = max(now - timer.due, 0.0)
        fired.append(Fired(partition, timer, command, command_audit(command, now, lateness), lateness))
    return Firing(fired, suspended)
