from detect_cases import found, rule_tests

from processors.detect.ipv4 import Ipv4Rule

RULE = Ipv4Rule()

VALID = [
    ("from 192.168.1.10 at noon", "192.168.1.10"),
    ("8.8.8.8", "8.8.8.8"),
    ("client=10.0.0.1:8080", "10.0.0.1"),
    ("route 10.0.0.0/8", "10.0.0.0"),
    ("last hop 255.255.255.255.", "255.255.255.255"),
    ("(203.0.113.7)", "203.0.113.7"),
    ("ip:0.0.0.0", "0.0.0.0"),
    ("x-forwarded-for: 198.51.100.23, 10.1.1.1", "198.51.100.23"),
]

INVALID = [
    "999.1.1.1",
    "256.256.256.256",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "v1.2.3.4beta",
    "1.2.3.4567",
    "price 12.99",
    "abc1.2.3.4",
    "date 20.11.2026",
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID, first_only=True)


def test_finds_every_address() -> None:
    assert found(RULE, "a 10.1.1.1 b 10.1.1.2") == ["10.1.1.1", "10.1.1.2"]
