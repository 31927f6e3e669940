import re
from typing import ClassVar

import pytest

from processors.detect import RULES, Rule, Span, redact, scan

NOTE = "Mail john.doe@example.com or call +1 (415) 555-2671, card 4111 1111 1111 1111, ip 10.0.0.1."


class _Word(Rule):
    name: ClassVar[str] = "word"
    category: ClassVar[str] = "test.word"
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile(r"[a-z]+"),)


class _Pair(Rule):
    name: ClassVar[str] = "pair"
    category: ClassVar[str] = "test.pair"
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile(r"[a-z]+ [a-z]+"),)


class _Letters(_Word):
    name: ClassVar[str] = "letters"


class _Chain(Rule):
    name: ClassVar[str] = "chain"
    category: ClassVar[str] = "test.chain"
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = tuple(map(re.compile, ["abcde", "efghi", "ijkl"]))


class _Digits(Rule):
    name: ClassVar[str] = "digits"
    category: ClassVar[str] = "test.digits"
    MIN_DIGITS: ClassVar[int] = 3
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile(r"[0-9]"),)


def test_registry_order() -> None:
    assert [rule.name for rule in RULES] == [
        "card", "iban", "email", "ipv6", "ipv4", "phone", "address", "token", "hex_id"]


def test_scan_finds_each_kind_sorted_by_start() -> None:
    assert [(NOTE[span.start : span.end], span.rule) for span in scan(NOTE)] == [
        ("john.doe@example.com", "email"),
        ("+1 (415) 555-2671", "phone"),
        ("4111 1111 1111 1111", "card"),
        ("10.0.0.1", "ipv4"),
    ]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("4111111111111111", "card"),  # also a phone-like digit run: card is listed first
        ("DE89370400440532013000", "iban"),
        ("::ffff:1.2.3.4", "ipv6"),  # longer than the embedded IPv4
        ("+1 (415) 555-2671", "phone"),  # longer than the (415) 555-2671 inside it
    ],
)
def test_overlap_keeps_one_span(text: str, rule: str) -> None:
    (span,) = scan(text)
    assert (span.start, span.end, span.rule) == (0, len(text), rule)


def test_longer_span_wins_over_rule_order() -> None:
    assert [span.rule for span in scan("ab cd", (_Word(), _Pair()))] == ["pair"]


def test_equal_length_keeps_earlier_rule() -> None:
    assert [span.rule for span in scan("ab", (_Word(), _Letters()))] == ["word"]
    assert [span.rule for span in scan("ab", (_Letters(), _Word()))] == ["letters"]


def test_a_dropped_span_does_not_block_its_other_neighbour() -> None:
    assert [(span.start, span.end) for span in scan("abcdefghijkl", (_Chain(),))] == [(0, 5), (8, 12)]


def test_rules_needing_digits_are_skipped() -> None:
    assert scan("a1b2", (_Digits(),)) == []
    assert len(scan("a1b2c3", (_Digits(),))) == 3


def test_find_does_not_depend_on_scan_skipping() -> None:
    assert len(_Digits().find("a1b2")) == 2


CLEAN = [
    "",
    "nothing personal here",
    "Order ORD-2026-000123 ships 2026-11-20.",
    "Order ORD-4411873 total 1249.99 EUR, paid 2026-03-14 09:15",
    "Replacement for event 4f1c2a9e-3b7d-4c1e-9a2b-1234567890ab",
    "Invoice number INV-2026-0042 paid 89.90 EUR",
    "Samsung Galaxy S23 Ultra 256 GB, case included",
    "Route 66 mug and Via Lattea lamp",
    "Gift wrap for Nike Air Max 90",
    "IKEA Billy bookcase 80x28x202 cm",
    "Coca-Cola Zero 24 x 330 ml",
    "Version 2.4.1 of the app, build 5521",
    "Shipped Via Amazon 2 parcels, tracking 1Z999AA10123456784",
    "Please deliver after 18:30 on 2026-05-02",
    "Discount code SUMMER2026, 15% off",
    "Flat 10 EUR shipping, 3 place settings",
    "Call of Duty voucher, 2 500 points",
]


@pytest.mark.parametrize("text", CLEAN)
def test_scan_clean_text(text: str) -> None:
    assert scan(text) == []


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("", [], ""),
        ("abc", [], "abc"),
        ("abc", [Span(0, 3, "x.y", "r")], "[x.y]"),
        ("a b c", [Span(4, 5, "c", "r"), Span(0, 1, "a", "r")], "[a] b [c]"),
        ("abcdef", [Span(0, 4, "long", "r"), Span(2, 6, "tail", "r")], "[long]"),
        ("abcdef", [Span(1, 3, "inner", "r"), Span(0, 4, "outer", "r")], "[outer]ef"),
    ],
)
def test_redact(text: str, spans: list[Span], expected: str) -> None:
    assert redact(text, spans) == expected


def test_redact_scan_round_trip() -> None:
    assert redact(NOTE, scan(NOTE)) == (
        "Mail [contact.email] or call [contact.phone], card [transaction.payment], ip [network.ip]."
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_literals_name_one_substring_per_pattern(rule: Rule) -> None:
    assert len(rule.LITERALS) in (0, len(rule.PATTERNS))


class _Upper(Rule):
    name: ClassVar[str] = "upper"
    category: ClassVar[str] = "test.upper"
    NEEDS_UPPER: ClassVar[bool] = True
    LITERALS: ClassVar[tuple[str, ...]] = ("", "ij")
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile("abc"), re.compile("[0-9]"))


@pytest.mark.parametrize(("text", "found"), [
    ("abc 1", []),                  # no capital: the rule is skipped
    ("abc 1 X", ["abc"]),           # a capital: the first pattern runs, the second lacks its literal
    ("abc 1 X ij", ["abc", "1"]),
])
def test_capitals_and_literals_gate_patterns(text: str, found: list[str]) -> None:
    assert [text[span.start:span.end] for span in scan(text, (_Upper(),))] == found
