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
from processors.sources import SHIPPED, Source
from processors.time import parse_time

if TYPE_CHECKING:
    from processors.retention.rules import RetentionRule

# the families of the shipped sources (orders.v1, logs.v1); a policy's own are Policy.families
FAMILIES = tuple(source.family for source in SHIPPED.values())
RECORD_KEYS = {source.family: ".".join(source.record_id) for source in SHIPPED.values()}


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
    kind: str = ""   # the source's kind (records | events); "" in timers written before sources

    def encode(self) -> bytes:
        # a copy: orjson's own result keeps a 4 KiB buffer alive, which is what the timer index
        # would hold per pending timer (4.4 KB instead of about 400 B; bench/README.md)
        fields: list[Any] = [self.rule, self.action, self.family, self.subject, self.record_key,
                             list(self.categories), self.due]
        if self.kind:
            fields.append(self.kind)
        return bytes(memoryview(orjson.dumps(fields)))

    @classmethod
    def decode(cls, timer_id: str, raw: bytes) -> Timer:
        rule, action, family, subject, record_key, categories, due, *kind = orjson.loads(raw)
        return cls(timer_id, rule, action, family, subject, record_key, tuple(categories), float(due),
                   kind[0] if kind else "")

    @property
    def order_id(self) -> str | None:
        """The record id a legal hold on one record (``order_id``) matches: records-kind sources only."""
        kind = self.kind or ("records" if self.family == "orders" else "events")
        return self.record_key if kind == "records" else None


class RetentionPlan:
    """The policy's retention rules, indexed by source, turning records into timers."""

    def __init__(self, rules: Mapping[str, RetentionRule], sources: Mapping[str, Source] | None = None) -> None:
        self.rules = dict(rules)
        self.sources = dict(SHIPPED if sources is None else sources)
        self.by_source: dict[str, list[RetentionRule]] = {topic: [] for topic in self.sources}
        for rule in self.rules.values():
            self.by_source.setdefault(rule.source, []).append(rule)
        # a source may also be named by its family (the older spelling)
        self._names = {s.family: topic for topic, s in reversed(list(self.sources.items()))}

    def has_rules(self, source: str) -> bool:
        return bool(self.by_source.get(self._names.get(source, source)))

    def timers_for(self, source: str, record: Mapping[str, Any]) -> list[Timer]:
        """The deadlines a valid record of ``source`` (a topic, or its family) sets (none if no rule applies).

        A record whose time does not parse sets none; it raises ValueError for the caller to count.
        """
        topic = self._names.get(source, source)
        rules = self.by_source.get(topic)
        declared = self.sources.get(topic)
        if not rules or declared is None:
            return []
        key = _get(record, declared.record_id)
        if not isinstance(key, str) or not key:
            return []
        subject = (_get(record, declared.subject) if declared.subject else None) or ""
        status = _get(record, declared.status) if declared.status else None
        # written only where the family does not already tell (orders: records, others: events)
        kind = "" if (declared.family == "orders") == (declared.kind == "records") else declared.kind
        timers = []
        occurred: float | None = None
        for rule in rules:
            if rule.trigger == "order_event" and status not in rule.on:
                continue
            if occurred is None:
                occurred = parse_time(_get(record, declared.event_time))
            categories = rule.categories if rule.action == "anonymize" else ()
            timers.append(Timer(f"{rule.name}/{key}", rule.name, rule.action, declared.family, subject, key,
                                categories, occurred + rule.after_seconds, kind))
        return timers


def _get(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


def command_id(timer: Timer) -> str:
    """Deterministic: a timer that fires again after a crash yields the same command."""
    return str(uuid.uuid5(LETHE_NAMESPACE, f"retention:{timer.timer_id}@{timer.due!r}"))
