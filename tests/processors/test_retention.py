"""Retention rules: durations from seconds to years, and every bad rule named in the error."""

from __future__ import annotations

from typing import Any

import pytest
from support import REPO

from processors.errors import PolicyError
from processors.policy import CATEGORIES, load_policy
from processors.retention import parse_duration, parse_retention


@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10), ("1.5m", 90), ("12h", 43_200), ("90d", 7_776_000), ("2w", 1_209_600), ("7y", 220_752_000),
    (" 3 d ", 259_200),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["7 years", "", "10", "-5s", "0s", "5x", "y7"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


GOOD: dict[str, Any] = {"family": "orders", "trigger": "order_event", "on": ["completed"], "after": "7y",
                        "action": "anonymize"}


@pytest.mark.parametrize(("change", "message"), [
    ({"family": "invoices"}, ".family = 'invoices'"),
    ({"trigger": "whenever"}, ".trigger = 'whenever'"),
    ({"action": "shred"}, ".action = 'shred'"),
    ({"on": []}, ".on must list order event types"),
    ({"on": ["teleported"]}, ".on must list order event types"),
    ({"after": "7 years"}, ".after = '7 years': not a duration"),
    ({"categories": ["contact.fax"]}, ".categories must list data categories"),
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"family": "logs"}, "applies to family 'orders' only"),
    ({"trigger": "event_time"}, ".on is only for trigger = 'order_event'"),
    ({"action": "delete", "categories": ["contact.email"]}, "applies to action 'anonymize' only"),
])
def test_bad_rules_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_retention({"orders-completed": {**GOOD, **change}}, CATEGORIES, "p.toml")
    assert 'retention."orders-completed"' in str(error.value)
    assert message in str(error.value)


def test_a_good_rule_defaults_to_every_category() -> None:
    rule = parse_retention({"r": GOOD}, CATEGORIES, "p.toml")["r"]
    assert rule.after_seconds == 7 * 365 * 86_400
    assert rule.categories == CATEGORIES and rule.on == ("completed",)


def test_the_default_policy_has_retention_rules() -> None:
    policy = load_policy(REPO / "deploy" / "policy.toml")
    assert {r.action for r in policy.retention.values()} == {"anonymize", "delete"}
    assert policy.retention["logs"].trigger == "event_time"
