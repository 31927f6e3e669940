import pytest
from detect_cases import rule_tests

from processors.detect.iban import LENGTHS, IbanRule, mod97_ok

RULE = IbanRule()

PRINTED = [
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "PL61 1090 1014 0000 0712 1981 2874",
    "IE29 AIBK 9311 5212 3456 78",
    "PT50 0002 0123 1234 5678 9015 4",
    "SE45 5000 0000 0583 9825 7466",
    "DK50 0040 0440 1162 43",
    "NO93 8601 1117 947",
    "FI21 1234 5600 0007 85",
    "LU28 0019 4006 4475 0000",
]

VALID = [
    *[(f"pay to {iban}, thanks", iban) for iban in PRINTED],
    ("IBAN:DE89370400440532013000", "DE89370400440532013000"),
    ("(GB82WEST12345698765432)", "GB82WEST12345698765432"),
    ("DE89 3704 0044 0532 0130 00 EUR", "DE89 3704 0044 0532 0130 00"),
    ("BE68 5390 0754 7034 2026", "BE68 5390 0754 7034"),
    ("mixed DE89 37040044 0532013000", "DE89 37040044 0532013000"),
]

INVALID = [
    "DE88 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 33",
    "DE89 3704 0044 0532 0130 0",
    "DE89370400440532013000X",
    "XDE89370400440532013000",
    "US64 SVBK US6S 3300 9673 86",
    "de89 3704 0044 0532 0130 00",
    "DE89 370 400 440 532 013 000",
    "NL91 ABNA 0417 1643 001",
    "SKU AB12 CDEF GHIJ KLMN OP",
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)


@pytest.mark.parametrize("country", ["DE", "GB", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "PL", "IE", "PT",
                                     "SE", "DK", "NO", "FI", "LU"])  # fmt: skip
def test_length_table_covers_common_countries(country: str) -> None:
    assert country in LENGTHS


def test_mod97() -> None:
    assert mod97_ok("DE89370400440532013000")
    assert not mod97_ok("DE89370400440532013001")
