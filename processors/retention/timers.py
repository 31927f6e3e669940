"""Retention deadlines: a record under a rule sets a :class:`Timer`; :class:`RetentionPlan` finds them.

The durable timer state and holds per partition are in streams/state/, the firing loop in streams/retention.py;
the lifecycle command and audit record a fired timer yields are built in processors/records.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
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
        # would hold per pending timer (4.4 KB instead of about 400 B; bench/README.md; still so with
        # orjson 3.13: tests/processors/test_retention_equivalence.py). One copy, by tobytes(); orjson
        # writes a tuple as it writes a list, so the fields need no list of their own.
        if self.kind:
            raw = orjson.dumps((self.rule, self.action, self.family, self.subject, self.record_key,
                                self.categories, self.due, self.kind))
        else:
            raw = orjson.dumps((self.rule, self.action, self.family, self.subject, self.record_key,
                                self.categories, self.due))
        return memoryview(raw).tobytes()

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
        # what timers_for needs, worked out once per name a source may be given by (not once per record)
        self._plans: dict[str, _SourcePlan] = {}
        for name in {**self.sources, **self.by_source, **self._names}:
            topic = self._names.get(name, name)
            declared = self.sources.get(topic)
            if self.by_source.get(topic) and declared is not None:
                self._plans[name] = _source_plan(declared, self.by_source[topic])

    def has_rules(self, source: str) -> bool:
        return bool(self.by_source.get(self._names.get(source, source)))

    def timers_for(self, source: str, record: Mapping[str, Any]) -> list[Timer]:
        """The deadlines a valid record of ``source`` (a topic, or its family) sets (none if no rule applies).

        A record whose time does not parse sets none; it raises ValueError for the caller to count.
        """
        plan = self._plans.get(source)
        if plan is None:
            return []
        record_id, subject_of, status_of, time_of, family, kind, rules = plan
        key = record_id(record)
        if not isinstance(key, str) or not key:
            return []
        subject = (subject_of(record) if subject_of is not None else None) or ""
        status = status_of(record) if status_of is not None else None
        timers = []
        occurred: float | None = None
        for on, name, action, categories, after in rules:
            if on is not None and status not in on:
                continue
            if occurred is None:
                occurred = parse_time(time_of(record))
            timers.append(_timer(f"{name}/{key}", name, action, family, subject, key, categories,
                                 occurred + after, kind))
        return timers


# per source: the getters of its record id, subject, status (None: not declared) and event time, its family,
# the kind a timer writes, and per rule: (the statuses it triggers on, None: any), name, action, categories, after
_SourcePlan = tuple[Callable[[Mapping[str, Any]], Any], Callable[[Mapping[str, Any]], Any] | None,
                    Callable[[Mapping[str, Any]], Any] | None, Callable[[Mapping[str, Any]], Any], str, str,
                    tuple[tuple[tuple[str, ...] | None, str, str, tuple[str, ...], float], ...]]


def _source_plan(declared: Source, rules: list[RetentionRule]) -> _SourcePlan:
    family = declared.family
    # written only where the family does not already tell (orders: records, others: events)
    kind = "" if (family == "orders") == (declared.kind == "records") else declared.kind
    return (_getter(declared.record_id), _getter(declared.subject) if declared.subject else None,
            _getter(declared.status) if declared.status else None, _getter(declared.event_time), family, kind,
            tuple((rule.on if rule.trigger == "order_event" else None, rule.name, rule.action,
                   rule.categories if rule.action == "anonymize" else (), rule.after_seconds) for rule in rules))


def _getter(path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """``_get(record, path)`` as one call; a plain dict and a one-field path (the usual case): ``record.get``."""
    if len(path) != 1:
        return lambda record: _get(record, path)
    name = path[0]
    return lambda record: record.get(name) if type(record) is dict else _get(record, path)


def _get(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


# Timer(...) for timers_for: the same frozen object, its slots filled directly (the dataclass's own
# __init__ goes through object.__setattr__ once per field: about 1.3 µs a timer, this about 0.55 µs)
(_set_id, _set_rule, _set_action, _set_family, _set_subject, _set_key, _set_categories, _set_due,
 _set_kind) = (getattr(Timer, name).__set__ for name in ("timer_id", "rule", "action", "family", "subject",
                                                         "record_key", "categories", "due", "kind"))


def _timer(timer_id: str, rule: str, action: str, family: str, subject: str, record_key: str,
           categories: tuple[str, ...], due: float, kind: str) -> Timer:
    timer = object.__new__(Timer)
    _set_id(timer, timer_id)
    _set_rule(timer, rule)
    _set_action(timer, action)
    _set_family(timer, family)
    _set_subject(timer, subject)
    _set_key(timer, record_key)
    _set_categories(timer, categories)
    _set_due(timer, due)
    _set_kind(timer, kind)
    return timer


def command_id(timer: Timer) -> str:
    """Deterministic: a timer that fires again after a crash yields the same command."""
    return str(uuid.uuid5(LETHE_NAMESPACE, f"retention:{timer.timer_id}@{timer.due!r}"))
