import pytest

from processors.detect import scan
from processors.detect.phone import PhoneRule

RULE = PhoneRule()

VALID = [
    ("call +1 (415) 555-2671 now", "+1 (415) 555-2671"),
    ("tel: +44 (0)20 7946 0958.", "+44 (0)20 7946 0958"),
    ("Handy +4915112345678", "+4915112345678"),
    ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
    ("ring +49-30-1234567, thanks", "+49-30-1234567"),
    ("Tel. 030 1234567", "030 1234567"),
    ("(030) 123 4567", "(030) 123 4567"),
    ("portable 06 12 34 56 78", "06 12 34 56 78"),
    ("mobile 07700 900123", "07700 900123"),
    ("UK mobile 07700900123 ok", "07700900123"),
    ("office 415.555.2671", "415.555.2671"),
    ("office 415-555-2671", "415-555-2671"),
    ("(415) 555-2671", "(415) 555-2671"),
    ("from 0049 30 1234567 today", "0049 30 1234567"),
    ("0044 (0)20 7946 0958", "0044 (0)20 7946 0958"),
    ("Tel 030/1234567", "030/1234567"),
    ("Tel 0221 / 123 456", "0221 / 123 456"),
]

INVALID = [
    "delivered 2026-11-20",
    "delivered on 20.11.2026",
    "due 01.12.2026",
    "at 10:30:15",
    "order ORD-2026-000123",
    "order #123456",
    "total 1,234,567.89 EUR",
    "price 1.234.567",
    "host 192.168.100.200",
    "card 4111 1111 1111 1111",
    "+1 234 56",
    "+49 30 1234 5678 9012 3456",
    "555-2671",
    "123-456-7890",
    "version 2.0.1234567",
    "id abc0301234567",
    "0.5 1234567",
    "invoice 00123456",
    "0049301234567",
    "due 01/12/2026",
    "month 01/2026",
    "555.123.4567",
]


def found(text: str) -> list[str]:
    return [text[span.start : span.end] for span in scan(text, (RULE,))]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_finds(text: str, expected: str) -> None:
    assert found(text) == [expected]


@pytest.mark.parametrize("text", INVALID)
def test_ignores(text: str) -> None:
    assert found(text) == []
