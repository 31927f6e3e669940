"""Encoded text inside free text: percent-escapes and base64 query values, decoded for scanning.

``scan`` hands the rules the decoded text and maps what they find back onto the text it was
given, so redaction removes the encoded form (``email=alice%40example.com`` and
``?u=YWxpY2VAZXhhbXBsZS5jb20=`` both lose the whole address).

- Percent-escapes: every run of ``%XX`` that decodes as UTF-8 is replaced by its characters;
  a run that does not (``50%AB off``) is left as it is. ``+`` is kept: in free text and in a
  query it is more often a phone prefix than an encoded space.
- Base64: a query value (after ``?``, ``&`` or ``;`` and ``name=``) of at least 12 characters in
  the standard or URL-safe alphabet that decodes to printable UTF-8 text is scanned on its own;
  if anything is found there, the whole encoded value is one span, of the first finding's
  category (base64 does not map character by character).

Limits: one level only (base64 inside base64, or a percent-escape inside base64, is not
decoded again); base64 outside a query value ("token: YWxpY2VA…" in prose) is not tried,
since most long alphanumeric words would be candidates.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_QUERY_VALUE = re.compile(r"[?&;][\w.~-]{1,40}=(?P<value>[A-Za-z0-9+/_-]{12,}={0,2})(?![\w+/=-])")
_MIN_PRINTABLE = 0.9


@dataclass(frozen=True, slots=True)
class Decoded:
    """``text`` decoded, with where each decoded character starts and ends in the original."""

    text: str
    starts: list[int]
    ends: list[int]

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def percent_decoded(text: str) -> Decoded | None:
    """``text`` with its percent-escape runs decoded, or None if it holds none that decode."""
    if "%" not in text:
        return None
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for run in _ESCAPES.finditer(text):
        try:
            chars = bytes.fromhex(run.group().replace("%", "")).decode("utf-8")
        except UnicodeDecodeError:
            continue
        plain = text[position : run.start()]
        parts.append(plain)
        starts.extend(range(position, run.start()))
        ends.extend(range(position + 1, run.start() + 1))
        at = run.start()
        for char in chars:
            width = 3 * len(char.encode("utf-8"))
            starts.append(at)
            ends.append(at + width)
            at += width
        parts.append(chars)
        position = run.end()
    if not parts:
        return None
    parts.append(text[position:])
    starts.extend(range(position, len(text)))
    ends.extend(range(position + 1, len(text) + 1))
    return Decoded("".join(parts), starts, ends)


def _printable(data: bytes) -> str | None:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(char.isprintable() or char in "\n\t" for char in decoded)
    return decoded if decoded and printable >= _MIN_PRINTABLE * len(decoded) else None


def base64_values(text: str) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) of the query values in ``text`` that are base64 of text."""
    if "=" not in text:
        return []
    found = []
    for match in _QUERY_VALUE.finditer(text):
        value = match.group("value")
        padded = value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)
        altchars = b"-_" if ("-" in value or "_" in value) else b"+/"
        try:
            data = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _printable(data)
        if decoded is not None:
            found.append((match.start("value"), match.end("value"), decoded))
    return found


Finder = Callable[[str], list[tuple[int, int, str, str, int]]]


def encoded_candidates(text: str, find: Finder) -> list[tuple[int, int, str, str, int]] | None:
    """What ``find`` reports on the decoded forms of ``text``, in ``text``'s coordinates.

    ``find`` returns (start, end, category, rule, priority) candidates. None when ``text``
    holds nothing encoded, so the caller scans it as it is.
    """
    decoded = percent_decoded(text)
    plain = decoded.text if decoded is not None else text
    inner = base64_values(plain)
    if decoded is None and not inner:
        return None
    candidates = find(plain)
    for start, end, payload in inner:
        hits = find(payload)
        if hits:
            first = min(hits, key=lambda hit: (hit[4], hit[0]))
            candidates.append((start, end, first[2], first[3], first[4]))
    if decoded is None:
        return candidates
    return [(*decoded.original(start, end), category, rule, priority)
            for start, end, category, rule, priority in candidates]
