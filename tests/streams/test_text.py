"""Counts and articles in user-facing messages: `1 record`, `2 records`, `an erase request`."""

from __future__ import annotations

import pytest

from streams.text import a_or_an, plural


@pytest.mark.parametrize(("count", "noun", "nouns", "expected"), [
    (0, "record", None, "0 records"),
    (1, "record", None, "1 record"),
    (2, "record", None, "2 records"),
    (1, "existing topic", None, "1 existing topic"),
    (16, "existing topic", None, "16 existing topics"),
    (3, "entry", "entries", "3 entries"),
    (1, "entry", "entries", "1 entry"),
])
def test_plural(count: int, noun: str, nouns: str | None, expected: str) -> None:
    assert plural(count, noun, nouns) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("access", "an access"), ("erase", "an erase"), ("object", "an object"), ("rectify", "a rectify"),
    ("portability", "a portability"), ("withdraw_consent", "a withdraw_consent"), ("minor_flag", "a minor_flag"),
])
def test_a_or_an(word: str, expected: str) -> None:
    assert a_or_an(word) == expected
