"""How evidence becomes a decision: the strongest category wins, a weak guess is marked for review,
a weak "not personal" does not overrule a personal clue, and nothing is left silently untagged."""

from __future__ import annotations

import pytest
from discover_cases import field_at

from processors.discover.classify import Evidence
from processors.discover.decide import decide

FIELD = field_at("x", [f"v{n}" for n in range(30)])
TEXT = field_at("x", [f"some words here number {n}" for n in range(30)])


@pytest.mark.parametrize(("evidence", "category", "review"), [
    ([Evidence("contact.email", 0.9, "a")], "contact.email", False),
    ([Evidence("contact.email", 0.9, "a"), Evidence(None, 0.5, "b")], "contact.email", False),
    ([Evidence(None, 0.9, "a"), Evidence("contact.email", 0.3, "b")], None, False),
    ([Evidence("contact.email", 0.45, "a")], "contact.email", True),
    ([Evidence(None, 0.45, "a"), Evidence("identity.name", 0.4, "b")], "identity.name", True),
    ([Evidence("device.info", 0.6, "a"), Evidence("device.info", 0.6, "b")], "device.info", False),
])
def test_the_evidence_decides(evidence: list[Evidence], category: str | None, review: bool) -> None:
    decision = decide(FIELD, evidence)
    assert decision.category == category
    assert bool(decision.review) is review


def test_independent_clues_add_up() -> None:
    one = decide(FIELD, [Evidence("device.info", 0.6, "a")])
    two = decide(FIELD, [Evidence("device.info", 0.6, "a"), Evidence("device.info", 0.6, "b")])
    assert two.confidence > one.confidence and two.reasons == ("a", "b")


def test_the_winners_format_and_scan_are_kept() -> None:
    decision = decide(FIELD, [Evidence("behavior.browsing", 0.8, "a", format="url", scan=True),
                              Evidence(None, 0.6, "b", format="timestamp")])
    assert (decision.format, decision.scan) == ("url", True)


@pytest.mark.parametrize(("field", "category", "scan"), [
    (FIELD, "account.profile", False),
    (TEXT, "free_text", True),
    (field_at("x", [None] * 10), "account.profile", False),
])
def test_a_string_nothing_recognises_is_tagged_for_review(field: object, category: str, scan: bool) -> None:
    decision = decide(field, [])   # type: ignore[arg-type]
    assert decision.category == category and decision.scan is scan and decision.review


def test_a_number_nothing_recognises_is_not_personal() -> None:
    assert decide(field_at("x", list(range(30))), []).category is None
