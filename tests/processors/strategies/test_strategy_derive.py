"""derive: free text replaced by its language, length and the categories found inside it."""

from __future__ import annotations

import pytest

from processors.policy import Options
from processors.strategies import STRATEGIES, FieldInfo, RecordContext
from processors.strategies.derive import Derive, language

NOTES = FieldInfo(("notes",), "string", "free_text", None, True)
URL = FieldInfo(("url",), "string", "behavior.browsing", "url", True)

UNSUPPORTED = [
    (FieldInfo(("total_amount",), "double", "transaction.order"), "needs a string field, total_amount is double"),
    (FieldInfo(("customer", "name"), "string", "identity.name"), "customer.name is not one"),
]

CONTEXT = [("alice dubois", "identity.name"), ("alice", "identity.name"), ("dubois", "identity.name")]

TEXTS = [
    # field, text, expected, categories found
    (NOTES, "Please call +44 20 7946 0958 before delivery",
     "[free_text: en; 44 chars; contact.phone]", {"contact.phone"}),
    (NOTES, "Gift for Alice, invoice to alice@example.com",
     "[free_text: 44 chars; contact.email, identity.name]", {"identity.name", "contact.email"}),
    (NOTES, "Bitte bei Frau Schmidt nebenan abgeben", "[free_text: de; 38 chars]", set()),
    (NOTES, "Laisser le colis chez la voisine, merci", "[free_text: fr; 39 chars]", set()),
    (NOTES, "Livrer au 12 rue de la Paix", "[free_text: fr; 27 chars; contact.address]", {"contact.address"}),
    (NOTES, "Ring twice", "[free_text: 10 chars]", set()),
    (NOTES, "", "[free_text: 0 chars]", set()),
    (URL, "https://shop.example.com/checkout?email=alice%40example.com",
     "[free_text: 59 chars; contact.email]", {"contact.email"}),
]


def test_registered() -> None:
    assert isinstance(STRATEGIES["derive"], Derive)
    assert Derive.scans_text


@pytest.mark.parametrize("info", [NOTES, URL], ids=["notes", "url"])
def test_applies_to_free_text(info: FieldInfo) -> None:
    assert Derive().unsupported(info) is None


@pytest.mark.parametrize(("info", "reason"), UNSUPPORTED, ids=["double", "name"])
def test_refuses_other_fields(info: FieldInfo, reason: str) -> None:
    problem = Derive().unsupported(info)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(("info", "text", "expected", "found"), TEXTS, ids=[str(i) for i in range(len(TEXTS))])
def test_derives(info: FieldInfo, text: str, expected: str, found: set[str]) -> None:
    ctx = RecordContext(b"k", context=list(CONTEXT))
    assert Derive().compile(info, Options())(text, ctx) == expected
    assert set(ctx.found) == found


def test_nothing_of_the_text_survives() -> None:
    text = "Leave it with Jürgen Weber next door"  # a name no detector finds
    derived = Derive().compile(NOTES, Options())(text, RecordContext(b"k"))
    assert "Jürgen" not in derived
    assert "Weber" not in derived


@pytest.mark.parametrize(("text", "code"), [
    ("the parcel is for the neighbour", "en"),
    ("Proszę zostawić u sąsiadki", "pl"),
    ("Graag afgeven bij de buren", "nl"),
    ("Consegnare il pacco della vicina, grazie", "it"),
    ("Entregar el paquete con cuidado, gracias", "es"),
    ("Samsung Galaxy S23", None),
    ("la", None),
])
def test_language(text: str, code: str | None) -> None:
    assert language(text) == code
