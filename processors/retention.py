"""Retention rules of the policy file (policy section 3.1), parsed and checked.

    [retention."orders-completed"]
    family = "orders"            # orders | logs
    trigger = "order_event"      # order_event: from an order event of a type in `on`;
    on = ["completed"]           # event_time: from the record's own occurred_at
    after = "7y"                 # 30s, 15m, 12h, 90d, 2w, 7y (a year is 365 days)
    action = "anonymize"         # anonymize (the categories' strategies) | delete
    categories = ["contact.email"]   # optional, anonymize only; default: every personal category

This module is pure: it parses the rules, turns a record into its deadlines (:class:`Timer`),
reads legal-hold events, and builds the lifecycle command and audit record a fired timer yields.
The durable timer state, the firing loop and the holds per partition are in streams/retention.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from processors.errors import InvalidRecord, PolicyError

FAMILIES = ("orders", "logs")
TRIGGERS = ("event_time", "order_event")
ACTIONS = ("anonymize", "delete")
ORDER_EVENTS = ("placed", "paid", "shipped", "completed", "cancelled", "refunded")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdwy])\s*$")


@dataclass(frozen=True)
class RetentionRule:
    name: str
    family: str
    trigger: str
    on: tuple[str, ...]
    after_seconds: float
    action: str
    categories: tuple[str, ...]


def parse_duration(text: str) -> float:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("not a duration; use e.g. 30s, 15m, 12h, 90d, 2w or 7y")
    seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def parse_retention(raw: Any, categories: tuple[str, ...], origin: str) -> dict[str, RetentionRule]:
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [retention] must hold tables, one per rule")
    return {name: _rule(name, spec, categories, origin) for name, spec in raw.items()}


def _rule(name: str, spec: Any, known_categories: tuple[str, ...], origin: str) -> RetentionRule:
    where = f'retention."{name}"'

    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: {where}{message}")

    if not isinstance(spec, dict):
        raise fail(" must be a table")
    extra = set(spec) - {"family", "trigger", "on", "after", "action", "categories"}
    if extra:
        raise fail(f": unknown key(s) {', '.join(sorted(extra))}")
    for key, allowed in (("family", FAMILIES), ("trigger", TRIGGERS), ("action", ACTIONS)):
        if spec.get(key) not in allowed:
            raise fail(f".{key} = {spec.get(key)!r}: use one of {', '.join(allowed)}")
    on = spec.get("on", [])
    if spec["trigger"] == "order_event":
        if spec["family"] != "orders":
            raise fail(".trigger = 'order_event' applies to family 'orders' only")
        if not isinstance(on, list) or not on or any(e not in ORDER_EVENTS for e in on):
            raise fail(f".on must list order event types ({', '.join(ORDER_EVENTS)})")
    elif on:
        raise fail(".on is only for trigger = 'order_event'")
    try:
        after = parse_duration(spec.get("after", ""))
    except ValueError as exc:
        raise fail(f".after = {spec.get('after')!r}: {exc}") from None
    categories = spec.get("categories", list(known_categories))
    if not isinstance(categories, list) or any(c not in known_categories for c in categories):
        raise fail(".categories must list data categories of the policy")
    if spec["action"] == "delete" and "categories" in spec:
        raise fail(".categories applies to action 'anonymize' only (delete removes the record)")
    return RetentionRule(name, spec["family"], spec["trigger"], tuple(on), after, spec["action"], tuple(categories))


# --- deadlines -------------------------------------------------------------------------------

# namespace of every id Lethe derives (command ids, audit ids): the same input gives the same id
LETHE_NAMESPACE = uuid.UUID("6d1f3c52-8f5e-4b8f-9a57-3d0c2f1e7a10")
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


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def parse_event_time(text: Any) -> float:
    """Epoch seconds of an event's RFC 3339 time with an offset, years 1970-2999; ValueError if not."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text) or not "1970" <= text[:4] <= "2999":
        raise ValueError("not an RFC 3339 time with an offset")
    return parse_time(text)


def parse_time(text: Any) -> float:
    """Epoch seconds of an RFC 3339 time; ValueError if it is not one (naive times are UTC)."""
    if not isinstance(text, str):
        raise ValueError("not a time")
    if text[-1:] == "z":   # RFC 3339 allows a lower-case z; datetime does not
        text = text[:-1] + "Z"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


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


def command_for(timer: Timer, now: float) -> dict[str, Any]:
    """The lifecycle command (schemas/lifecycle.commands.v1.avsc) of a fired timer."""
    return {
        "command_id": command_id(timer), "issued_at": iso(now), "action": timer.action,
        "subject": timer.subject,
        "selector": {"family": timer.family, "record_key": timer.record_key},
        "categories": list(timer.categories), "fields": [], "updates": {},
        "rule": timer.rule, "cause": "retention", "due_at": iso(timer.due),
    }


def audit_record(action: str, subject: str | None, now: float, identity: str, rule: str | None = None,
                 request_id: str | None = None, details: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An audit entry (schemas/privacy.audit.v1.avsc); ``identity`` makes its id deterministic."""
    return {
        "audit_id": str(uuid.uuid5(LETHE_NAMESPACE, f"audit:{action}:{identity}")),
        "occurred_at": iso(now), "subject": subject or None, "action": action, "rule": rule,
        "request_id": request_id, "details": dict(details or {}),
    }


def command_audit(command: Mapping[str, Any], now: float, lateness: float) -> dict[str, Any]:
    selector = command["selector"]
    details = {"command_id": command["command_id"], "command_action": command["action"],
               "family": selector["family"], "record_key": selector["record_key"] or "",
               "due_at": command["due_at"], "lateness_seconds": f"{lateness:.3f}"}
    if command["categories"]:
        details["categories"] = ",".join(command["categories"])
    return audit_record("command", command["subject"], now, command["command_id"], rule=command["rule"],
                        details=details)


# --- legal holds -----------------------------------------------------------------------------

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


def parse_hold(raw: bytes | None) -> Hold:
    """Read a legal-hold event; InvalidRecord (never quoting a value) if it is not one."""
    try:
        event = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        raise InvalidRecord("json", "legal hold is not valid JSON") from None
    if not isinstance(event, dict):
        raise InvalidRecord("type", "legal hold must be a JSON object")
    for name in ("hold_id", "customer_id", "case_ref", "occurred_at"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidRecord("required", f"field {name} must be a non-empty string", name)
    if event.get("action") not in HOLD_ACTIONS:
        raise InvalidRecord("enum", "field action must be place or release", "action")
    order_id = event.get("order_id")
    if order_id is not None and (not isinstance(order_id, str) or not order_id):
        raise InvalidRecord("type", "field order_id must be a non-empty string or null", "order_id")
    try:
        parse_event_time(event["occurred_at"])
    except ValueError:
        raise InvalidRecord("format", "field occurred_at must be an RFC 3339 time", "occurred_at") from None
    return Hold(event["hold_id"], event["action"], event["customer_id"], order_id, event["case_ref"],
                event["occurred_at"])


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


def hold_audit(hold: Hold, now: float) -> dict[str, Any]:
    details = {"hold_id": hold.hold_id, "case_ref": hold.case_ref, "scope": "order" if hold.order_id else "subject"}
    if hold.order_id:
        details["order_id"] = hold.order_id
    return audit_record(f"hold_{hold.action}", hold.subject, now, f"{hold.hold_id}:{hold.action}",
                        rule="legal-hold", details=details)


def held_audit(timer: Timer, holds: Iterable[Hold], now: float) -> dict[str, Any]:
    details = {"timer": timer.timer_id, "due_at": iso(timer.due), "command_action": timer.action,
               "hold_ids": ",".join(sorted(h.hold_id for h in holds))}
    identity = f"{timer.timer_id}@{timer.due!r}:{details['hold_ids']}"   # a new hold suspends anew
    return audit_record("suspended", timer.subject, now, identity, rule=timer.rule, details=details)
