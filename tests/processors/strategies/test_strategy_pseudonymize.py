"""pseudonym: a keyed, per-subject, per-field pseudonym of a string value."""

from __future__ import annotations

import re

import pytest

from processors.policy import Options
from processors.pseudonym import pseudonym
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.pseudonymize import Pseudonymize

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
HEX20 = re.compile(r"[0-9a-f]{20}")

CUSTOMER_ID = FieldInfo(("customer_id",), "string", "identifier.customer", "subject")
ORDER_ID = FieldInfo(("order_id",), "string", "transaction.order", "identifier")
SESSION_ID = FieldInfo(("session_id",), "string", "identifier.session", "identifier")
NESTED = FieldInfo(("customer", "email"), "string", "contact.email")

SUPPORTED = [CUSTOMER_ID, ORDER_ID, SESSION_ID, NESTED]
UNSUPPORTED = [
    (FieldInfo(("total_amount",), "double", "transaction.order"), "needs a string field, total_amount is double"),
    (FieldInfo(("payment_status",), "enum", "transaction.payment"), "payment_status is enum"),
    (FieldInfo(("geo", "lat"), "double", "location.precise", "latitude"), "geo.lat is double"),
    (FieldInfo(("status_code",), "int", "behavior.browsing"), "status_code is int"),
    (FieldInfo(("x",), "union", "free_text"), "x is union"),
]


def apply(info: FieldInfo, value: str, key: bytes = KEY) -> str:
    result: str = Pseudonymize().compile(info, Options())(value, RecordContext(key))
    return result


def test_registered_as_pseudonym() -> None:
    assert isinstance(STRATEGIES["pseudonym"], Pseudonymize)


@pytest.mark.parametrize("info", SUPPORTED, ids=lambda info: info.dotted)
def test_applies_to_strings(info: FieldInfo) -> None:
    assert Pseudonymize().unsupported(info) is None


@pytest.mark.parametrize(("info", "reason"), UNSUPPORTED, ids=lambda v: v.dotted if isinstance(v, FieldInfo) else "")
def test_refuses_other_types(info: FieldInfo, reason: str) -> None:
    problem = Pseudonymize().unsupported(info)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(("info", "value", "domain"), [
    (CUSTOMER_ID, "cust-8841", b"subject"),
    (ORDER_ID, "ORD-2026-000123", b"order_id"),
    (SESSION_ID, "sess-5d2c9e71", b"session_id"),
    (NESTED, "alice@example.com", b"email"),
    (FieldInfo(("a_rather_long_field_name",), "string", "free_text"), "v", b"a_rather_long_fi"),
], ids=["subject", "order_id", "session_id", "nested-uses-leaf-name", "long-name-truncated-to-16"])
def test_value_is_the_keyed_pseudonym_in_the_field_domain(info: FieldInfo, value: str, domain: bytes) -> None:
    result = apply(info, value)
    assert result == pseudonym(KEY, domain, value)
    assert HEX20.fullmatch(result)
    assert value not in result


@pytest.mark.parametrize("value", ["cust-8841", "", "Zofia Kowalczyk", "ünïcødé ✓", "x" * 10_000])
def test_deterministic(value: str) -> None:
    assert apply(ORDER_ID, value) == apply(ORDER_ID, value)
    assert HEX20.fullmatch(apply(ORDER_ID, value))


def test_differs_by_subject_key() -> None:
    assert apply(CUSTOMER_ID, "cust-8841") != apply(CUSTOMER_ID, "cust-8841", OTHER_KEY)


def test_differs_by_field() -> None:
    assert apply(ORDER_ID, "same-value") != apply(SESSION_ID, "same-value")
    assert apply(CUSTOMER_ID, "same-value") != apply(ORDER_ID, "same-value")


def test_differs_by_value() -> None:
    assert apply(ORDER_ID, "ORD-1") != apply(ORDER_ID, "ORD-2")


def test_subject_format_wins_over_field_name() -> None:
    renamed = FieldInfo(("buyer",), "string", "identifier.customer", "subject")
    assert apply(renamed, "cust-1") == apply(CUSTOMER_ID, "cust-1")
