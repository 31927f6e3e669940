import pytest
from detect_cases import rule_tests

from processors.detect.card import CardRule, luhn_ok

RULE = CardRule()

VALID = [
    ("card 4111 1111 1111 1111 exp 12/28", "4111 1111 1111 1111"),
    ("4111-1111-1111-1111", "4111-1111-1111-1111"),
    ("pan=4111111111111111;", "4111111111111111"),
    ("mc 5555 5555 5555 4444.", "5555 5555 5555 4444"),
    ("amex 3782 822463 10005", "3782 822463 10005"),
    ("amex 378282246310005", "378282246310005"),
    ("visa13 4222222222222", "4222222222222"),
    ("discover 6011 0009 9013 9424", "6011 0009 9013 9424"),
    ("mc2 2223 0031 2200 3222", "2223 0031 2200 3222"),
    ("19 digits 6011 0009 9013 9424 009", "6011 0009 9013 9424 009"),
]

INVALID = [
    "card 4111 1111 1111 1112",
    "4111-1111 1111-1111",
    "411111111111",
    "41111111111111111111",
    "ts 1732464000000",
    "phone +4111111111111111",
    "pi 3.4111111111111111",
    "ORD-4111111111111111",
    "id 4111111111111111x",
    "0000 0000 0000 0000",
    "SKU 5488926410731",  # 13 digits, Luhn-valid, not starting with 4
    "EAN 4533460445006",  # 13 digits starting with 4, Luhn-valid, but a valid EAN-13
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)


@pytest.mark.parametrize(("digits", "ok"), [("79927398713", True), ("79927398710", False), ("0", True)])
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok
