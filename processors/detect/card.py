"""Payment card numbers: 13–19 digits, optionally grouped by spaces or dashes, Luhn-checked.

Only numbers whose first digit is 2–6 (Mastercard 2-series, Amex, Visa, Mastercard, Discover,
Maestro, UnionPay, JCB) are considered, which keeps millisecond timestamps and most internal ids
out. A 13-digit number must start with 4 (only Visa ever issued 13-digit cards) and must not
be a valid EAN-13 barcode: product codes (SKUs, GTINs) in order notes are 13 digits, and one in
ten passes Luhn. Limits: UATP (1…) and other rare schemes are missed; one in ten random 13–19 digit numbers
starting 2–6 passes Luhn; a card glued to a further digit group ("4111 1111 1111 1111 2026")
is rejected as a whole.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processors.detect.base import Rule


def ean13_ok(digits: str) -> bool:
    return sum((ord(char) - 48) * (3 if index % 2 else 1) for index, char in enumerate(digits)) % 10 == 0


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


class CardRule(Rule):
    name: ClassVar[str] = "card"
    category: ClassVar[str] = "transaction.payment"
    MIN_DIGITS: ClassVar[int] = 13
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"[2-6](?<![\w.,+-].)(?:[0-9]{12,18}|[0-9]{2,5}(?:[ -][0-9]{3,6}){1,4})(?!\w|[.,-]?[0-9])"),
    )

    def validate(self, candidate: str) -> bool:
        digits = candidate.replace(" ", "").replace("-", "")
        if not 13 <= len(digits) <= 19:
            return False
        if len(digits) == 13 and (digits[0] != "4" or ean13_ok(digits)):
            return False
        separators = {char for char in candidate if char in " -"}
        return len(separators) <= 1 and luhn_ok(digits)
