"""scan decodes percent-escapes and base64 query values, and reports spans of the encoded text."""

import base64

import pytest

from processors.detect import redact, scan
from processors.detect.encoded import base64_values, percent_decoded


def b64(text: str, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(text.encode()).decode()


EMAIL_B64 = b64("alice@example.com")
PHONE_B64 = b64("tel +44 20 7946 0958", urlsafe=True).rstrip("=")

FOUND = [
    ("https://shop.example/x?email=alice%40example.com&step=2", [("alice%40example.com", "contact.email")]),
    ("to%3Ajane.roe%40example.net", [("jane.roe%40example.net", "contact.email")]),
    ("phone=%2B44%2020%207946%200958", [("%2B44%2020%207946%200958", "contact.phone")]),
    ("addr=12%20rue%20de%20la%20Paix", [("12%20rue%20de%20la%20Paix", "contact.address")]),
    ("note=Stra%C3%9Fe: Hauptstra%C3%9Fe%205", [("Hauptstra%C3%9Fe%205", "contact.address")]),
    (f"https://shop.example/track?u={EMAIL_B64}&lang=de", [(EMAIL_B64, "contact.email")]),
    (f"/cb?state={PHONE_B64}", [(PHONE_B64, "contact.phone")]),
    (f"a?b=1;u={EMAIL_B64}", [(EMAIL_B64, "contact.email")]),
    (f"?u={b64(b64('alice@example.com'))}", []),  # one level only
    ("mail bob@example.org, ?q=" + b64("call 030 1234567"),
     [("bob@example.org", "contact.email"), (b64("call 030 1234567"), "contact.phone")]),
]

CLEAN = [
    "50%AB off today",
    "100% cotton, 20%-30% off",
    "price 100%40 off",
    "https://shop.example/p?q=summer%20dress&page=2",
    f"?u={b64('nothing personal here')}",
    "?session=aGVsbG8gd29ybGQgdGhpcyBpcyBqdXN0IHRleHQ=",
    "?q=ThisIsALongWordThatIsNotBase64Text",
    "?id=0123456789abcdef0123",
    "token: " + EMAIL_B64,   # base64 outside a query value is not tried
]


@pytest.mark.parametrize(("text", "expected"), FOUND)
def test_finds_encoded(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(text[span.start : span.end], span.category) for span in scan(text)] == expected


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text: str) -> None:
    assert scan(text) == []


def test_redaction_removes_the_encoded_form() -> None:
    text = f"x?e=alice%40example.com&u={EMAIL_B64}&p=2"
    assert redact(text, scan(text)) == "x?e=[contact.email]&u=[contact.email]&p=2"


def test_percent_map() -> None:
    decoded = percent_decoded("a%C3%9Fb%20c")
    assert decoded is not None
    assert decoded.text == "aßb c"
    assert decoded.original(1, 2) == (1, 7)
    assert decoded.original(0, 5) == (0, 12)
    assert percent_decoded("no escapes") is None
    assert percent_decoded("bad %FF escape") is None


def test_base64_values_need_a_query_name() -> None:
    assert base64_values(f"?u={EMAIL_B64}") == [(3, 3 + len(EMAIL_B64), "alice@example.com")]
    assert base64_values(f"={EMAIL_B64}") == []
