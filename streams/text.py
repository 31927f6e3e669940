"""Wording shared by every message a user reads."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and the noun in the right number: ``1 record``, ``2 records``, ``0 entries``."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def a_or_an(word: str) -> str:
    """``word`` with its indefinite article, by its first letter: ``an access``, ``a rectify``."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
