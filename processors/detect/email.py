"""E-mail addresses, including the percent-encoded form (``%40``) that shows up inside URLs.

``PATTERNS`` match from the ``@`` (or ``%40``) through the domain; ``find`` then reads the
local part backwards from there. A pattern that starts at the local part has to be tried at
every word start and costs several times as much on ordinary notes; this rule runs on every event.

Limits: ASCII addresses only (no internationalised local parts or IDN domains in Unicode form),
no quoted local parts, local parts of at most 64 characters made of letters, digits, ``_``,
``+``, ``-`` and inner dots, so URL delimiters such as ``=``, ``?`` and ``&`` are never
swallowed. A local part may start right after a percent escape (``to%3Ajane%40x.org``).
"""

from __future__ import annotations

import re
from string import hexdigits
from typing import ClassVar

from processors.detect.base import Rule, Span

_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])"
# The same language read forwards or backwards, so it can be matched on the reversed prefix.
_LOCAL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_MAX_LOCAL = 64
_WINDOW = _MAX_LOCAL + 2  # room for the two hex digits of a percent escape before the local part


def local_part_start(text: str, at: int) -> int | None:
    """Where the local part ending at ``at`` begins, or None if there is no valid one."""
    local = _LOCAL.match(text[max(0, at - _WINDOW) : at][::-1])
    if local is None:
        return None
    start = at - local.end()
    if start > 0 and text[start - 1] == "%":
        escape = text[start : start + 2]
        if len(escape) != 2 or not all(char in hexdigits for char in escape):
            return None
        start += 2
        if start >= at or text[start] == ".":
            return None
    elif start > 0 and text[start - 1] in _LOCAL_CHARS:
        return None
    return start if at - start <= _MAX_LOCAL else None


class EmailRule(Rule):
    name: ClassVar[str] = "email"
    category: ClassVar[str] = "contact.email"
    # Two literal-led patterns rather than one "(?:@|%40)": re finds a literal far faster.
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile("@" + _DOMAIN), re.compile("%40" + _DOMAIN))
    LITERALS: ClassVar[tuple[str, ...]] = ("@", "%40")

    def find(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for pattern, literal in self.GATED:
            if literal in text:
                for match in pattern.finditer(text):
                    start = local_part_start(text, match.start())
                    if start is not None:
                        spans.append(Span(start, match.end(), self.category, self.name))
        return spans
