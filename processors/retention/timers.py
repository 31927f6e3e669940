"""Retention deadlines: a record under a rule sets a :class:`Timer`; :class:`RetentionPlan` finds them.

The durable timer state and holds per partition are in streams/state/, the firing loop in streams/retention.py;
the lifecycle command and audit record a fired timer yields are built in processors/records.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from processors.ids import LETHE_NAMESPACE
from processors.time import parse_time

if TYPE_CHECKING:
    from processors.retention.rules import RetentionRule

FAMILIES = ("orders", "logs")
RECORD_KEYS = {"orders": "order_id", "logs": "event_id"}


@dataclass(frozen=True, slots=True)
class Timer:
    """One pending deadline: at ``due`` (epoch seconds) apply ``action`` to one stored record.

    ``timer_id`` is ``<rule>/<record key>``: one timer per rule and record, so a repeated or
    replayed trigger event moves or keeps the deadline instead of adding one. ``subject`` is ""
    for a record without a data subject (an anonymous log event).
    """

    timer_id: str
    rule: str
    action: str
    family: str
    subject: str
    record_key: str
    categories: tuple[str, ...]
    due: float

    def encode(self) -> bytes:
        # a copy: orjson's own result keeps a 4 KiB buffer alive, which is what the timer index
        # would hold per pending timer (4.4 KB instead of about 400 B; bench/README.md)
        return bytes(memoryview(orjson.dumps([self.rule, self.action, self.family, self.subject, self.record_key,
                                              list(self.categories), self.due])))

    @classmethod
    def decode(cls, timer_id: str, raw: bytes) -> Timer:
        rule, action, family, subject, record_key, categories, due = orjson.loads(raw)
        return cls(timer_id, rule, action, family, subject, record_key, tuple(categories), float(due))

    @property
    def order_id(self) -> str | None:
        return self.record_key if self.family == "orders" else None


class RetentionPlan:
    """The policy's retention rules, indexed by family, turning records into timers."""

    def __init__(self, rules: Mapping[str, RetentionRule]) -> None:
        self.rules = dict(rules)
        self.by_family: dict[str, list[RetentionRule]] = {f: [] for f in FAMILIES}
        for rule in self.rules.values():
            self.by_family[rule.family].append(rule)

    def timers_for(self, family: str, record: Mapping[str, Any]) -> list[Timer]:
        """The deadlines a valid record of ``family`` sets (none if no rule applies to it).

        A record whose time does not parse sets none; it raises ValueError for the caller to count.
        """
        rules = self.by_family.get(family)
        if not rules:
            return []
        key = record.get(RECORD_KEYS[family])
        if not isinstance(key, str) or not key:
            return []
        subject = record.get("customer_id") or ""
        event_type = record.get("event_type")
        timers = []
        occurred: float | None = None
        for rule in rules:
            if rule.trigger == "order_event" and event_type not in rule.on:
                continue
            if occurred is None:
                occurred = parse_time(record.get("occurred_at"))
            categories = rule.categories if rule.action == "anonymize" else ()
            timers.append(Timer(f"{rule.name}/{key}", rule.name, rule.action, family, subject, key,
                                categories, occurred + rule.after_seconds))
        return timers


def command_id(timer: Timer) -> str:
    """Deterministic: a timer that fires again after a crash yields the same command."""
    return str(uuid.uuid5(LETHE_NAMESPACE, f"retention:{timer.timer_id}@{timer.due!r}"))
