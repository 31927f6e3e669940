"""The checks every detection rule's tests share (tests/processors/detect/test_*.py).

Each rule's test file keeps its own tables of inputs and binds the two parametrized tests
this module builds from them:

    test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from processors.detect import Rule, scan


def found(rule: Rule, text: str) -> list[str]:
    """The texts of the spans that `scan` finds in `text` with `rule` alone, in order."""
    return [text[span.start : span.end] for span in scan(text, (rule,))]


def rule_tests(rule: Rule, valid: Sequence[tuple[str, str]], invalid: Sequence[str], *,
               first_only: bool = False) -> tuple[Callable[[str, str], None], Callable[[str], None]]:
    """`test_finds` (each valid text yields exactly its expected span) and `test_ignores`
    (each invalid text yields none). With `first_only`, `test_finds` checks only the first span."""

    @pytest.mark.parametrize(("text", "expected"), valid)
    def test_finds(text: str, expected: str) -> None:
        spans = found(rule, text)
        assert (spans[:1] if first_only else spans) == [expected]

    @pytest.mark.parametrize("text", invalid)
    def test_ignores(text: str) -> None:
        assert found(rule, text) == []

    return test_finds, test_ignores
