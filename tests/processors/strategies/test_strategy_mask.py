"""mask: all but the last mask_keep_last characters hidden, and short values hidden whole."""

from __future__ import annotations

import pytest

from processors.policy import Options
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.mask import Mask

TRACKING = FieldInfo(("tracking_number",), "string", "transaction.logistics")

UNSUPPORTED = [
    (FieldInfo(("geo", "lat"), "double", "location.precise", "latitude"), "needs a string field, geo.lat is double"),
    (FieldInfo(("total_amount",), "double", "transaction.order"), "total_amount is double"),
    (FieldInfo(("payment_status",), "enum", "transaction.payment"), "payment_status is enum"),
    (FieldInfo(("status_code",), "int", "behavior.browsing"), "status_code is int"),
    (FieldInfo(("x",), "union", "free_text"), "x is union"),
]

CASES = [
    # value, keep_last, char, expected
    ("JD014600006281230", 4, "*", "*************1230"),
    ("1234567890123456", 4, "*", "************3456"),      # 16 = 4 * 4: shown in part
    ("123456789012345", 4, "*", "***************"),        # 15 < 16: masked whole
    ("+44 20 7946 0958", 4, "*", "************0958"),
    ("abc", 4, "*", "***"),
    ("", 4, "*", ""),
    ("abcdefgh", 2, "*", "******gh"),
    ("abcdefg", 2, "*", "*******"),
    ("abcdefgh", 0, "*", "********"),
    ("abcdefgh", 1, "#", "#######h"),
    ("Łódź-Kraków-Gdańsk", 4, "•", "••••••••••••••ańsk"),
]


def test_registered() -> None:
    assert isinstance(STRATEGIES["mask"], Mask)


def test_applies_to_strings() -> None:
    assert Mask().unsupported(TRACKING) is None
    assert Mask().unsupported(FieldInfo(("customer", "phone"), "string", "contact.phone")) is None


@pytest.mark.parametrize(("info", "reason"), UNSUPPORTED, ids=lambda v: v.dotted if isinstance(v, FieldInfo) else "")
def test_refuses_other_types(info: FieldInfo, reason: str) -> None:
    problem = Mask().unsupported(info)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(("value", "keep", "char", "expected"), CASES, ids=[f"{c[0]!r}-keep{c[1]}" for c in CASES])
def test_masks(value: str, keep: int, char: str, expected: str) -> None:
    transform = Mask().compile(TRACKING, Options(mask_keep_last=keep, mask_char=char))
    assert transform(value, RecordContext(b"k")) == expected


@pytest.mark.parametrize("length", range(40))
@pytest.mark.parametrize("keep", [0, 1, 4, 9])
def test_never_shows_more_than_a_quarter(length: int, keep: int) -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    masked = Mask().compile(TRACKING, Options(mask_keep_last=keep))(value, RecordContext(b"k"))
    assert len(masked) == length
    shown = len(masked) - masked.count("*")
    assert shown <= keep
    assert 4 * shown <= length
