"""Retention rules of the policy file (policy section 3.1), parsed and checked.

    [retention."orders-completed"]
    family = "orders"            # orders | logs
    trigger = "order_event"      # order_event: from an order event of a type in `on`;
    on = ["completed"]           # event_time: from the record's own occurred_at
    after = "7y"                 # 30s, 15m, 12h, 90d, 2w, 7y (a year is 365 days)
    action = "anonymize"         # anonymize (the categories' strategies) | delete
    categories = ["contact.email"]   # optional, anonymize only; default: every personal category
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from processors.errors import PolicyError
from processors.retention.timers import FAMILIES

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
