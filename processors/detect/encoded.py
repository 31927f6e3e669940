"""Encoded text inside free text: percent-escapes and base64 query values, decoded for scanning.

``scan`` hands the rules the decoded text and maps what they find back onto the text it was
given, so redaction removes the encoded form (``email=alice%40example.com`` and
``?u=YWxpY2VAZXhhbXBsZS5jb20=`` both lose the whole address).

- Percent-escapes: every run of ``%XX`` that decodes as UTF-8 is replaced by its characters;
  a run that does not (``50%AB off``) is left as it is. ``+`` is kept: in free text and in a
  query it is more often a phone prefix than an encoded space.
- Base64: a query value (after ``?``, ``&`` or ``;`` and ``name=``) of at least 12 characters in
  the standard or URL-safe alphabet, with upper and lower case letters, that decodes to
  printable UTF-8 text is scanned on its own;
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

from processors.detect.base import Span

_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# Base64 of text has upper and lower case letters; phone numbers and ids in queries have not.
_QUERY_VALUE = re.compile(
    r"[?&;][\w.~-]{1,40}=(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[A-Z])(?P<value>[A-Za-z0-9+/_-]{12,}={0,2})(?![\w+/=-])"
)
_MIN_PRINTABLE = 0.9


@dataclass(frozen=True, slots=True)
class Decoded:
    """``text`` decoded, and its decoded runs: (start in ``text``, start in the original, end in
    the original, the UTF-8 width of each decoded character), so positions map back on demand.
    """

    text: str
    runs: list[tuple[int, int, int, list[int]]]

    def _position(self, index: int, end: bool) -> int:
        shift = 0  # original minus decoded position, after the last run before ``index``
        for start, original, original_end, widths in self.runs:
            if index < start or (end and index == start):
                break
            if index < start + len(widths) or (end and index == start + len(widths)):
                return original + 3 * sum(widths[: index - start])
            shift = original_end - (start + len(widths))
        return index + shift

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self._position(start, False), self._position(end, True)


def percent_decoded(text: str) -> Decoded | None:
    """``text`` with its percent-escape runs decoded, or None if it holds none that decode."""
    if "%" not in text:
        return None
    parts: list[str] = []
    runs: list[tuple[int, int, int, list[int]]] = []
    position = 0
    length = 0
    for run in _ESCAPES.finditer(text):
        try:
            chars = bytes.fromhex(run.group().replace("%", "")).decode("utf-8")
        except UnicodeDecodeError:
            continue
        plain = text[position : run.start()]
        parts.append(plain)
        length += len(plain)
        runs.append((length, run.start(), run.end(), [len(char.encode("utf-8")) for char in chars]))
        parts.append(chars)
        length += len(chars)
        position = run.end()
    if not runs:
        return None
    parts.append(text[position:])
    return Decoded("".join(parts), runs)


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


Found = list[tuple[Span, int]]  # a span and its rule's priority (its index in the rules)


def encoded_candidates(text: str, find: Callable[[str], Found]) -> Found | None:
    """What ``find`` reports on the decoded forms of ``text``, in ``text``'s coordinates.

    None when ``text`` holds nothing encoded, so the caller scans it as it is.
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
            first, priority = min(hits, key=lambda hit: (hit[1], hit[0].start))
            candidates.append((Span(start, end, first.category, first.rule), priority))
    if decoded is None:
        return candidates
    return [(Span(*decoded.original(span.start, span.end), span.category, span.rule), priority)
            for span, priority in candidates]
