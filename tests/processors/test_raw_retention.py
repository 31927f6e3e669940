"""The policy states each source topic's raw retention; one longer than the erasure deadline is refused
unless the policy says why (an erased subject's raw records would outlive the deadline there)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from processors.errors import PolicyError
from processors.policy import parse_policy
from processors.rights.base import Rights, shortest_deadline_s

POLICY = tomllib.loads((Path(__file__).resolve().parents[2] / "deploy" / "policy.toml").read_text(encoding="utf-8"))
DAY = 86_400.0


def with_source(rights: dict[str, Any] | None = None, **orders: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["sources"]["orders.v1"].update(orders)
    if rights is not None:
        policy["rights"] = {**policy.get("rights", {}), **rights}
    return policy


@pytest.mark.parametrize(("rights", "days"), [
    (Rights(deadline_days=20), 26), (Rights(deadline_days=5), 5), (Rights(deadline_days=3), 3),
    (Rights(deadline_days=20, business_days=False), 20), (Rights(deadline_days=1), 1)])
def test_the_shortest_deadline_counts_the_fewest_weekend_days(rights: Rights, days: int) -> None:
    assert shortest_deadline_s(rights) == days * DAY


def test_the_default_is_the_week_lethe_creates_input_topics_with() -> None:
    assert parse_policy(copy.deepcopy(POLICY)).sources["orders.v1"].raw_retention_s == 7 * DAY


@pytest.mark.parametrize(("orders", "rights"), [
    ({"raw_retention": "30d"}, None),
    ({"raw_retention": "7d"}, {"deadline_days": 5}),
    ({"raw_retention": "8d"}, {"deadline_days": 5, "business_days": False}),
])
def test_a_raw_retention_longer_than_the_erasure_deadline_is_refused(orders: dict[str, Any],
                                                                    rights: dict[str, Any] | None) -> None:
    with pytest.raises(PolicyError, match=r'sources."orders.v1".raw_retention = .* longer than the erasure deadline'
                                          r".*raw_retention_reason"):
        parse_policy(with_source(rights, **orders))


def test_a_stated_reason_lets_it_through() -> None:
    source = parse_policy(with_source(raw_retention="30d", raw_retention_reason="chargeback disputes")).sources[
        "orders.v1"]
    assert (source.raw_retention_s, source.raw_retention_reason) == (30 * DAY, "chargeback disputes")


@pytest.mark.parametrize(("orders", "says"), [
    ({"raw_retention": "a week"}, "not a duration"), ({"raw_retention": "3d", "raw_retention_reason": " "}, "in words"),
    ({"raw_retention": "5d"}, None), ({"raw_retention": "26d"}, None)])
def test_values_are_checked(orders: dict[str, Any], says: str | None) -> None:
    if says is None:
        assert parse_policy(with_source(**orders)).sources["orders.v1"].raw_retention_reason is None
        return
    with pytest.raises(PolicyError, match=says):
        parse_policy(with_source(**orders))
