"""What a field's sampled values look like, as the share of values of each shape.

Each shape is a predicate on one string; :func:`share` gives the fraction of the non-empty
sampled strings that satisfy it. Only shapes, never the values, leave this module.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime

UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z")
HEX = re.compile(r"(?:0x)?[0-9a-fA-F]{12,}\Z")
PREFIXED_ID = re.compile(r"[A-Za-z]{1,12}[-_:]?(?=[A-Za-z0-9-_]*\d)[A-Za-z0-9][A-Za-z0-9-_]{2,40}\Z")
OPAQUE = re.compile(r"[A-Za-z0-9+/=_-]{16,}\Z")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}\Z")
URL = re.compile(r"(?:https?|ftp)://\S+\Z|www\.\S+\.\S+\Z", re.IGNORECASE)
PATH = re.compile(r"/[\w%.~/-]*(?:\?\S*)?\Z")
PHONE = re.compile(r"\+?[\d\s().-]{7,20}\Z")
AGENT = re.compile(r"(?:Mozilla|Opera|Dalvik|curl|okhttp|Wget|python-requests|[A-Za-z]+/\d[\w.]*\s\()", re.IGNORECASE)
LATLON_TEXT = re.compile(r"-?\d{1,3}\.\d{3,},\s*-?\d{1,3}\.\d{3,}\Z")
MAC = re.compile(r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\Z")
PERSON_NAME = re.compile(r"(?:[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+\.?\s){1,3}(?:(?:van|von|de|da|del|der|di|la|le)\s)?"
                         r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+\Z")
_COUNTRIES = (
    "AD AE AF AG AL AM AO AR AT AU AZ BA BB BD BE BG BH BO BR BS BY CA CH CL CN CO CR CU CY CZ DE DK DO DZ EC EE "
    "EG ES FI FR GB GE GR GT HK HN HR HU ID IE IL IN IQ IR IS IT JM JO JP KE KR KW KZ LB LI LK LT LU LV MA MC MD "
    "ME MK MT MX MY NG NI NL NO NZ OM PA PE PH PK PL PR PT PY QA RO RS RU SA SE SG SI SK SN SV TH TN TR TW UA "
    "UK US UY UZ VE VN ZA")
_CURRENCIES = "EUR USD GBP CHF SEK NOK DKK PLN CZK HUF JPY CNY CAD AUD BRL MXN INR RON BGN TRY"
COUNTRY = frozenset(_COUNTRIES.split())
CURRENCY = frozenset(_CURRENCIES.split())


def is_timestamp(value: str) -> bool:
    """RFC 3339 with a UTC offset, as Lethe's ``format: timestamp`` validator accepts it."""
    if len(value) < 20 or len(value) > 64 or value[4:5] != "-" or value[10:11] not in ("T", "t", " "):
        return False
    try:
        parsed = datetime.fromisoformat(value[:-1] + "Z" if value[-1:] == "z" else value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def is_date(value: str) -> bool:
    """A calendar date without a time: 1990-04-17, 17.04.1990, 17/04/1990."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return bool(re.fullmatch(r"\d{1,2}[./]\d{1,2}[./]\d{4}", value))


def is_ip(value: str) -> bool:
    if not 2 <= len(value) <= 45 or not (":" in value or "." in value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_text(value: str) -> bool:
    """Words with spaces, the way people write: at least three words and some letters."""
    words = value.split()
    return len(words) >= 3 and sum(c.isalpha() for c in value) >= len(value) * 0.5


def is_phone(value: str) -> bool:
    return (bool(PHONE.match(value)) and sum(c.isdigit() for c in value) >= 7 and not is_date(value)
            and not is_ip(value))


def is_person_name(value: str) -> bool:
    return bool(PERSON_NAME.match(value.strip()))


def is_opaque_id(value: str) -> bool:
    return bool(UUID.match(value) or HEX.match(value) or PREFIXED_ID.match(value)
                or (OPAQUE.match(value) and any(c.isdigit() for c in value)))


SHAPES: dict[str, Callable[[str], bool]] = {
    "uuid": lambda v: bool(UUID.match(v)),
    "hex": lambda v: bool(HEX.match(v)),
    "jwt": lambda v: bool(JWT.match(v)),
    "opaque_id": is_opaque_id,
    "prefixed_id": lambda v: bool(PREFIXED_ID.match(v)),
    "email": lambda v: bool(EMAIL.match(v)),
    "url": lambda v: bool(URL.match(v)),
    "path": lambda v: bool(PATH.match(v)),
    "phone": is_phone,
    "user_agent": lambda v: bool(AGENT.match(v)) and len(v) > 20,
    "timestamp": is_timestamp,
    "date": is_date,
    "ip": is_ip,
    "mac": lambda v: bool(MAC.match(v)),
    "country": lambda v: v.upper() in COUNTRY and len(v) == 2,
    "currency": lambda v: v.upper() in CURRENCY,
    "latlon": lambda v: bool(LATLON_TEXT.match(v)),
    "text": is_text,
    "person_name": is_person_name,
    "digits": lambda v: v.isdigit(),
    "decimal": lambda v: bool(re.fullmatch(r"-?\d{1,12}(?:[.,]\d{1,4})?", v)),
}


def share(values: Sequence[str], shape: str) -> float:
    """The fraction of the non-empty ``values`` of ``shape`` (0.0 when there are none)."""
    test = SHAPES[shape]
    seen = [v for v in values if v.strip()]
    if not seen:
        return 0.0
    return sum(1 for v in seen if test(v)) / len(seen)
