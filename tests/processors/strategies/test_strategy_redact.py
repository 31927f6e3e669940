"""redact: personal data inside free text replaced by [category], the record's own values included."""

from __future__ import annotations

import pytest

from processors.policy import Options
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.redact import Redact, redact_text

NOTES = FieldInfo(("notes",), "string", "free_text", None, True)
URL = FieldInfo(("url",), "string", "behavior.browsing", "url", True)

UNSUPPORTED = [
    (FieldInfo(("total_amount",), "double", "transaction.order"), "needs a string field, total_amount is double"),
    (FieldInfo(("geo", "lat"), "double", "location.precise", "latitude"), "geo.lat is double"),
    (FieldInfo(("payment_status",), "enum", "transaction.payment"), "payment_status is enum"),
    (FieldInfo(("x",), "union", "free_text"), "x is union"),
    # regression: redact used to apply to any string, so a name field with redact was published whole
    (FieldInfo(("customer", "name"), "string", "identity.name"), "customer.name is not one"),
    (FieldInfo(("customer", "email"), "string", "contact.email"), "applies to free-text fields"),
]

CONTEXT = [
    ("alice dubois", "identity.name"),
    ("alice", "identity.name"),
    ("dubois", "identity.name"),
    ("12 baker street", "contact.address"),
    ("cust-8841", "identifier.customer"),
]

TEXTS = [
    # field, text, expected, categories found
    (NOTES, "Please call +44 20 7946 0958 before delivery",
     "Please call [contact.phone] before delivery", {"contact.phone"}),
    (NOTES, "mail alice@example.com or bob@example.org",
     "mail [contact.email] or [contact.email]", {"contact.email"}),
    (NOTES, "Gift for Alice, invoice to alice@example.com",
     "Gift for [identity.name], invoice to [contact.email]", {"identity.name", "contact.email"}),
    (NOTES, "From ALICE DUBOIS with love", "From [identity.name] with love", {"identity.name"}),
    (NOTES, "Deliver to 12 Baker Street back door", "Deliver to [contact.address] back door",
     {"contact.address"}),
    (NOTES, "customer cust-8841 called", "customer [identifier.customer] called", {"identifier.customer"}),
    (NOTES, "Malice and Alicea are not Alice", "Malice and Alicea are not [identity.name]", {"identity.name"}),
    (NOTES, "Ring twice please", "Ring twice please", set()),
    (NOTES, "", "", set()),
    (URL, "https://shop.example.com/checkout?step=2&email=alice%40example.com",
     "https://shop.example.com/checkout?step=2&email=[contact.email]", {"contact.email"}),
    (URL, "https://mail.example.net/inbox?u=alice@example.com",
     "https://mail.example.net/inbox?u=[contact.email]", {"contact.email"}),
    (URL, "https://shop.example.com/track?phone=%2B447700900123",
     "https://shop.example.com/track?phone=[contact.phone]", {"contact.phone"}),
    (URL, "https://shop.example.com/products/kettle", "https://shop.example.com/products/kettle", set()),
    (URL, "https://shop.example.com/u/alice", "https://shop.example.com/u/[identity.name]", {"identity.name"}),
    (NOTES, "Mme Dubois-Martin", "Mme [identity.name]-Martin", {"identity.name"}),
]


def test_registered() -> None:
    assert isinstance(STRATEGIES["redact"], Redact)


@pytest.mark.parametrize("info", [NOTES, URL], ids=["notes", "url"])
def test_applies_to_strings(info: FieldInfo) -> None:
    assert Redact().unsupported(info) is None


@pytest.mark.parametrize(("info", "reason"), UNSUPPORTED, ids=lambda v: v.dotted if isinstance(v, FieldInfo) else "")
def test_refuses_other_types(info: FieldInfo, reason: str) -> None:
    problem = Redact().unsupported(info)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(("info", "text", "expected", "found"), TEXTS, ids=[f"{c[0].dotted}-{i}" for i, c in
                                                                           enumerate(TEXTS)])
def test_redacts(info: FieldInfo, text: str, expected: str, found: set[str]) -> None:
    ctx = RecordContext(b"k", context=list(CONTEXT))
    assert Redact().compile(info, Options())(text, ctx) == expected
    assert set(ctx.found) == found


def test_without_context_only_detectors_run() -> None:
    ctx = RecordContext(b"k")
    assert redact_text("Gift for Alice, call +44 20 7946 0958", ctx) == "Gift for Alice, call [contact.phone]"
    assert ctx.found == ["contact.phone"]


def test_found_accumulates_across_fields() -> None:
    ctx = RecordContext(b"k", context=list(CONTEXT))
    redact_text("alice@example.com", ctx)
    redact_text("Alice", ctx)
    assert ctx.found == ["contact.email", "identity.name"]


def test_phone_with_literal_plus_in_url_is_redacted() -> None:
    # regression: unquote_plus used to turn "+44..." into " 44..." which the phone detector missed
    ctx = RecordContext(b"k")
    result = Redact().compile(URL, Options())("https://shop.example.com/track?phone=+447700900123", ctx)
    assert result == "https://shop.example.com/track?phone=[contact.phone]"
    assert ctx.found == ["contact.phone"]


URLS = [
    # url, kept parameters, expected
    ("https://shop.example.com/search?q=kettle&page=2", ("page",), "https://shop.example.com/search?q=[query]&page=2"),
    ("https://shop.example.com/search?q=kettle+pot", (), "https://shop.example.com/search?q=[query]"),
    ("https://shop.example.com/search?q=kettle", ("q",), "https://shop.example.com/search?q=kettle"),
    ("https://shop.example.com/a?email=", (), "https://shop.example.com/a?email="),
    ("https://shop.example.com/u/c-8841af/orders/123456", (), "https://shop.example.com/u/[id]/orders/[id]"),
    ("https://shop.example.com/o/4f7c2a9e-0b1d-4c55-9a61-3e2f8d7b1c01", (), "https://shop.example.com/o/[id]"),
    ("https://shop.example.com/products/kettle", (), "https://shop.example.com/products/kettle"),
    ("https://zofia:secret@shop.example.com:8443/p#zofia", (), "https://shop.example.com:8443/p"),
    ("https://shop.example.com/p?utm_source=news&ref=zofia", ("utm_source",),
     "https://shop.example.com/p?utm_source=news&ref=[query]"),
    ("not a url, mail alice@example.com", (), "not a url, mail [contact.email]"),
]


@pytest.mark.parametrize(("url", "keep", "expected"), URLS, ids=[f"url-{i}" for i in range(len(URLS))])
def test_url_structure(url: str, keep: tuple[str, ...], expected: str) -> None:
    transform = Redact().compile(URL, Options(url_keep_params=keep))
    assert transform(url, RecordContext(b"k")) == expected


def test_default_kept_parameters() -> None:
    transform = Redact().compile(URL, Options())
    url = "https://shop.example.com/c?utm_source=a&utm_medium=b&utm_campaign=c&page=2&sort=price&step=3&lang=en"
    assert transform(url, RecordContext(b"k")) == url
