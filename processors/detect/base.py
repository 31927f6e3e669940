"""The shape every free-text detector shares: a span type and a small rule base class."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    category: str  # a data category, e.g. "contact.email"
    rule: str  # the rule's name, e.g. "email"


class Rule:
    r"""One detector: class-level patterns plus an optional checksum hook.

    Subclasses declare ``name``, ``category`` and ``PATTERNS`` and override ``validate`` when a
    match needs a checksum or a parse to be trusted. ``MIN_DIGITS`` is a lower bound on the
    digits any accepted match contains, so ``scan()`` can skip the rule after counting digits once;
    ``NEEDS_UPPER`` says that every accepted match holds an upper-case letter, so ``scan()`` skips
    the rule on text without one. ``LITERALS`` (empty, or one per pattern) are substrings each
    pattern's matches contain (``""``: none): a pattern runs only on text that holds its literal.
    ``may_match`` is a cheap test that lets ``find`` return before running any regex.

    Patterns start with a literal or a character class and test the character before the match
    with a two-character lookbehind placed after it (``[0-9](?<![\w.].)``), not with a leading
    lookbehind: only then can ``re`` skip straight to candidate first characters instead of
    trying every position, which makes a scan of a short note about three times faster.
    """

    name: ClassVar[str]
    category: ClassVar[str]
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]]
    MIN_DIGITS: ClassVar[int] = 0
    NEEDS_UPPER: ClassVar[bool] = False
    LITERALS: ClassVar[tuple[str, ...]] = ()
    GATED: ClassVar[tuple[tuple[re.Pattern[str], str], ...]] = ()   # (pattern, its literal or "")
    # whether the rule overrides ``may_match`` / ``validate``: ``find`` calls only those that do
    FILTERS: ClassVar[bool] = False
    VALIDATES: ClassVar[bool] = False

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        patterns = getattr(cls, "PATTERNS", ())
        cls.GATED = tuple(zip(patterns, cls.LITERALS or ("",) * len(patterns), strict=True))
        cls.FILTERS = cls.may_match is not Rule.may_match
        cls.VALIDATES = cls.validate is not Rule.validate

    def validate(self, candidate: str) -> bool:
        return True

    def may_match(self, text: str) -> bool:
        return True

    def find(self, text: str) -> list[Span]:
        if self.FILTERS and not self.may_match(text):
            return []
        spans: list[Span] = []
        validates = self.VALIDATES
        for pattern, literal in self.GATED:
            if literal in text:
                for match in pattern.finditer(text):
                    if not validates or self.validate(match.group()):
                        spans.append(Span(match.start(), match.end(), self.category, self.name))
        return spans


    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
