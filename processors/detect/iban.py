"""IBANs: country code, two check digits and a BBAN of the country's exact length, mod-97 checked.

The pattern is built from ``LENGTHS`` so a candidate is cut at its country's length; text that
follows ("… 0130 00 EUR", "BE68 5390 0754 7034 2026") is not swallowed. Spaces are allowed
between the groups of four of the print form.

Limits: only countries in ``LENGTHS`` are found; upper-case only; the BBAN's national layout
(which positions are letters) is not checked, the mod-97 check carries the precision.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processors.detect.base import Rule

LENGTHS: dict[str, int] = {
    "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}  # fmt: skip


def _pattern_for_length(length: int) -> str:
    groups, rest = divmod(length - 4, 4)
    body = f"(?: ?[A-Z0-9]{{4}}){{{groups}}}"
    return body + (f" ?[A-Z0-9]{{{rest}}}" if rest else "")


def _build_pattern() -> re.Pattern[str]:
    by_length: dict[int, list[str]] = {}
    for country, length in sorted(LENGTHS.items()):
        by_length.setdefault(length, []).append(country)
    # Country code and check digits first, then the BBAN branch chosen by a look back at the code.
    branches = [
        f"(?<=(?:{'|'.join(countries)})[0-9]{{2}}){_pattern_for_length(length)}"
        for length, countries in sorted(by_length.items())
    ]
    return re.compile(rf"[A-Z](?<![A-Za-z0-9].)[A-Z][0-9]{{2}}(?:{'|'.join(branches)})(?![A-Za-z0-9])")


def mod97_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


class IbanRule(Rule):
    name: ClassVar[str] = "iban"
    category: ClassVar[str] = "transaction.payment"
    MIN_DIGITS: ClassVar[int] = 7
    NEEDS_UPPER: ClassVar[bool] = True   # the country code
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (_build_pattern(),)

    def validate(self, candidate: str) -> bool:
        compact = candidate.replace(" ", "")
        digits = sum(char.isdigit() for char in compact)
        return digits >= self.MIN_DIGITS and mod97_ok(compact)
