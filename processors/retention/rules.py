"""Retention rules of the policy file (policy section 3.1), parsed and checked.

    [retention."orders-completed"]
    source = "orders.v1"         # a declared source (processors/sources.py); `family = "orders"` also works
    trigger = "order_event"      # order_event: from a record whose status is in `on` (kind records);
    on = ["completed"]           # event_time: from the record's own event time
    after = "7y"                 # 30s, 15m, 12h, 90d, 2w, 7y (a year is 365 days)
    action = "anonymize"         # anonymize (the categories' strategies) | delete
    categories = ["contact.email"]   # optional, anonymize only; default: every personal category
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from processors.errors import PolicyError, Problems
from processors.sources import SHIPPED, Source

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
    source: str = ""   # the source topic the rule applies to


def parse_duration(text: str) -> float:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("not a duration; use e.g. 30s, 15m, 12h, 90d, 2w or 7y")
    seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def parse_retention(raw: Any, categories: tuple[str, ...], origin: str,
                    sources: dict[str, Source] | None = None, problems: Problems | None = None
                    ) -> dict[str, RetentionRule]:
    """The [retention] rules, each checked alone. With ``problems``, a rule with a problem is
    recorded there and left out; without, the problems of every rule are raised together."""
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [retention] must hold tables, one per rule")
    sources = SHIPPED if sources is None else sources
    collected = Problems() if problems is None else problems
    rules = {}
    for name, spec in raw.items():
        rule = collected.run(_rule, name, spec, categories, origin, sources)
        if rule is not None:
            rules[name] = rule
    if problems is None:
        collected.check()
    return rules


def _rule(name: str, spec: Any, known_categories: tuple[str, ...], origin: str,
          sources: dict[str, Source]) -> RetentionRule:
    where = f'retention."{name}"'

    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: {where}{message}")

    if not isinstance(spec, dict):
        raise fail(" must be a table")
    extra = set(spec) - {"source", "family", "trigger", "on", "after", "action", "categories"}
    if extra:
        raise fail(f": unknown key(s) {', '.join(sorted(extra))}")
    if "source" in spec:
        source = sources.get(spec["source"]) if isinstance(spec["source"], str) else None
        if source is None:
            raise fail(f".source = {spec['source']!r}: not a declared source; use one of {', '.join(sources)}")
    else:   # the older spelling: a family, the source whose topic is <family>.vN
        matching = [s for s in sources.values() if s.family == spec.get("family")]
        if not matching:
            families = ", ".join(dict.fromkeys(s.family for s in sources.values()))
            raise fail(f".family = {spec.get('family')!r}: use source = \"<topic>\" (or one of {families})")
        source = matching[0]
    for key, allowed in (("trigger", TRIGGERS), ("action", ACTIONS)):
        if spec.get(key) not in allowed:
            raise fail(f".{key} = {spec.get(key)!r}: use one of {', '.join(allowed)}")
    on = spec.get("on", [])
    if spec["trigger"] == "order_event":
        if source.kind != "records" or source.status is None:
            raise fail(f".trigger = 'order_event' applies to sources of kind 'records' with a status field "
                       f"only ({source.topic} has none)")
        if not isinstance(on, list) or not on or any(not isinstance(e, str) or not e for e in on):
            raise fail(f".on must list order event types (values of {source.topic}'s status field)")
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
    return RetentionRule(name, source.family, spec["trigger"], tuple(on), after, spec["action"], tuple(categories),
                         source.topic)
