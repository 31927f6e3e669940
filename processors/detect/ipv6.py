"""IPv6 addresses in full, compressed and IPv4-embedded form (``::ffff:1.2.3.4``).

The pattern only picks out runs of hex digits and colons; ``ipaddress`` decides. That keeps
times (12:30:45), MAC addresses and C++ scopes (``std::vector``) out.

Limits: a zone suffix (``fe80::1%eth0``) is left outside the span; the unspecified address ``::``
on its own is not reported; a candidate glued to further colon groups is rejected as a whole.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from processors.detect.base import Rule

_HEX = "[0-9A-Fa-f]"


class Ipv6Rule(Rule):
    name: ClassVar[str] = "ipv6"
    category: ClassVar[str] = "network.ip"
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(
            rf"[0-9A-Fa-f:](?<![\w:.].)(?={_HEX}{{0,3}}:|(?<=:))"
            rf"[0-9A-Fa-f:]{{1,38}}(?:(?<=:)[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}})?"
            rf"(?:(?<={_HEX})|(?<=::))(?!\w|\.[0-9]|:[0-9A-Fa-f:])"
        ),
    )

    def may_match(self, text: str) -> bool:
        return text.count(":") >= 2

    def validate(self, candidate: str) -> bool:
        if candidate == "::" or candidate.count(":") < 2:
            return False
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return False
        return True
