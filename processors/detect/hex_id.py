"""Long hexadecimal strings (32 or more hex digits) in free text: session ids, API keys, hashes.

A run of at least 32 hex digits holding both digits and letters (so neither ``000…0`` nor a
long word such as ``deadbeefcafe…`` alone) is an identifier minted by a machine: a session or
device id, an API key, a password-reset token, a hashed e-mail. It is reported as
``identifier.session`` (see ``token.py`` for why that category).

Not found, by design: UUIDs in their dashed form (event and order ids: see ``token.py``),
shorter hex (order ids, colours such as ``#ff8800``, short git hashes). A 32-hex-digit UUID
written without dashes is found: nothing tells it apart from a token. Git commit hashes (40 hex
digits) are found too.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processors.detect.base import Rule


class HexIdRule(Rule):
    name: ClassVar[str] = "hex_id"
    category: ClassVar[str] = "identifier.session"
    MIN_DIGITS: ClassVar[int] = 8  # a random 32-hex-digit run has fewer than 8 digits once in 100,000
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"[0-9a-fA-F](?<![\w-].)[0-9a-fA-F]{31,}(?![\w-])"),
    )

    def validate(self, candidate: str) -> bool:
        return not candidate.isdigit() and not candidate.isalpha()
