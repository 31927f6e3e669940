"""Free-text personal-data detectors: ``scan`` finds spans, ``redact`` replaces them.

``RULES`` is the registry, one line per rule. Its order is the tie-break when two spans of the
same length overlap, so the payment rules come first and a card number is never also a phone.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence

from processors.detect.address import AddressRule
from processors.detect.base import Rule, Span
from processors.detect.card import CardRule
from processors.detect.email import EmailRule
from processors.detect.encoded import Found, encoded_candidates
from processors.detect.hex_id import HexIdRule
from processors.detect.iban import IbanRule
from processors.detect.ipv4 import Ipv4Rule
from processors.detect.ipv6 import Ipv6Rule
from processors.detect.phone import PhoneRule
from processors.detect.token import TokenRule

__all__ = ["RULES", "Rule", "Span", "redact", "scan"]

RULES: tuple[Rule, ...] = (
    CardRule(),
    IbanRule(),
    EmailRule(),
    Ipv6Rule(),
    Ipv4Rule(),
    PhoneRule(),
    AddressRule(),
    TokenRule(),
    HexIdRule(),
)

_DIGITS = b"0123456789"


Gates = list[tuple[int, int, bool, Callable[[str], list[Span]]]]


def _gates(rules: Sequence[Rule]) -> Gates:
    """Per rule, what ``_candidates`` reads: its priority, its gates and its ``find``."""
    return [(priority, rule.MIN_DIGITS, rule.NEEDS_UPPER, rule.find) for priority, rule in enumerate(rules)]


_RULE_GATES = _gates(RULES)


def _candidates(text: str, rules: Sequence[Rule]) -> Found:
    """Every span any rule finds, overlapping or not, with its rule's priority."""
    encoded = text.encode("utf-8", "surrogatepass")  # ASCII digits never occur inside multibyte chars
    digits = len(encoded) - len(encoded.translate(None, _DIGITS))
    lower = text.islower()   # no upper-case letter (and at least one lower-case one)
    found: Found = []
    for priority, min_digits, needs_upper, find in _RULE_GATES if rules is RULES else _gates(rules):
        if digits < min_digits or (lower and needs_upper):
            continue
        for span in find(text):
            found.append((span, priority))
    return found


def scan(text: str, rules: Sequence[Rule] = RULES) -> list[Span]:
    """Every non-overlapping span the rules find, sorted by start.

    Where spans overlap the longer one wins; on equal length the rule listed first in ``rules``.
    Percent-escapes and base64 query values are decoded first (``processors.detect.encoded``);
    the spans are then those of the encoded text.
    """
    found = None
    if "%" in text or "=" in text:
        found = encoded_candidates(text, lambda plain: _candidates(plain, rules))
    if found is None:
        found = _candidates(text, rules)
    if len(found) < 2:
        return [span for span, _ in found]
    found.sort(key=lambda entry: (entry[0].start - entry[0].end, entry[1], entry[0].start))
    starts: list[int] = []  # of the kept spans, which never overlap, so only neighbours can clash
    kept: list[Span] = []
    for span, _ in found:
        index = bisect_left(starts, span.start)
        if index > 0 and kept[index - 1].end > span.start:
            continue
        if index < len(kept) and kept[index].start < span.end:
            continue
        starts.insert(index, span.start)
        kept.insert(index, span)
    return kept


def redact(text: str, spans: Sequence[Span]) -> str:
    """``text`` with each span replaced by ``[category]``.

    Overlapping spans (``scan`` never returns them) are merged under the first one's category,
    so no character of any span survives.
    """
    parts: list[str] = []
    position = 0
    for span in sorted(spans, key=lambda span: (span.start, -span.end)):
        if span.start < position:
            position = max(position, span.end)
            continue
        parts.append(text[position : span.start])
        parts.append(f"[{span.category}]")
        position = span.end
    parts.append(text[position:])
    return "".join(parts)
