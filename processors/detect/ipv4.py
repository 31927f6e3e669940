"""Dotted-quad IPv4 addresses, confirmed by ``ipaddress`` (so 999.1.1.1 and 01.2.3.4 are rejected).

Limits: a four-part version number such as 1.2.3.4 is indistinguishable from an address and is
reported; addresses written in other notations (hex, integer, fewer than four parts) are not.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from processors.detect.base import Rule


class Ipv4Rule(Rule):
    name: ClassVar[str] = "ipv4"
    category: ClassVar[str] = "network.ip"
    MIN_DIGITS: ClassVar[int] = 4
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"[0-9](?<![\w.].)[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?!\w|\.[0-9])"),
    )

    def may_match(self, text: str) -> bool:
        return text.count(".") >= 3

    def validate(self, candidate: str) -> bool:
        try:
            ipaddress.IPv4Address(candidate)
        except ValueError:
            return False
        return True
