"""withdraw_consent: a refusal recorded (and audited as a consent decision), and what was collected
only on that consent anonymized in every store."""

from __future__ import annotations

from typing import Any

import pytest
from rights_cases import CONSENT, CONTEXT, NOW, check_records, request, summary, view

from processors.rights import REQUEST_TYPES, RightsContext

ANONYMIZE = [("anonymize", "orders"), ("anonymize", "logs")]


def refusal(purpose: str, source: str = "support") -> dict[str, Any]:
    return {"event_id": "req-1:withdrawal", "purpose": purpose, "granted": False, "policy_version": "2026-11-01",
            "source": source, "occurred_at": "2026-11-21T09:15:00Z"}


@pytest.mark.parametrize(("details", "changes", "expected"), [
    ({"purpose": "location"}, {},
     {"status": "in_progress", "audits": ["request_received", "consent", "command", "command"],
      "commands": ANONYMIZE, "exports": 0, "shred": False, "failed": False,
      "consent": {"current": {"location": refusal("location")}, "history": [refusal("location")]}}),
    ({"purpose": "marketing"}, {"consent": CONSENT},
     {"status": "completed", "audits": ["request_received", "consent", "completion"], "commands": [],
      "exports": 0, "shred": False, "failed": False,
      "consent": {"current": {**CONSENT["current"], "marketing": refusal("marketing")},
                  "history": [*CONSENT["history"], refusal("marketing")]}}),
    ({"purpose": "nonsense"}, {},
     {"status": "failed", "audits": ["request_received", "request_failed"], "commands": [], "exports": 0,
      "shred": False, "failed": True, "consent": None}),
    ({}, {}, {"status": "failed", "audits": ["request_received", "request_failed"], "commands": [], "exports": 0,
              "shred": False, "failed": True, "consent": None}),
    ({"purpose": "location"}, {"context": RightsContext(CONTEXT.rights)},   # no consent state on this worker
     {"status": "failed", "audits": ["request_received", "request_failed"], "commands": [], "exports": 0,
      "shred": False, "failed": True, "consent": None}),
])
def test_withdraw_consent(details: dict[str, str], changes: dict[str, Any], expected: dict[str, Any]) -> None:
    before = repr(changes.get("consent"))
    effects = REQUEST_TYPES["withdraw_consent"].accept(request("withdraw_consent", details), view(**changes))
    check_records(effects)
    assert summary(effects) == expected
    assert repr(changes.get("consent")) == before   # the view's consent state is not changed in place
    assert effects.consent_decisions == ([(details["purpose"], "refused")] if effects.consent else [])


def test_the_withdrawal_is_audited_as_a_current_consent_decision_caused_by_the_request() -> None:
    effects = REQUEST_TYPES["withdraw_consent"].accept(request("withdraw_consent", {"purpose": "location"},
                                                               channel="api"), view())
    consent = effects.audits[1]
    assert (consent["action"], consent["request_id"], consent["rule"]) == ("consent", "req-1", "consent.location")
    assert consent["details"]["current"] == "true" and consent["details"]["source"] == "api"
    assert all(c["categories"] == ["location.precise"] for c in effects.commands)


def test_a_retry_rebuilds_the_same_commands() -> None:
    kind = REQUEST_TYPES["withdraw_consent"]
    effects = kind.accept(request("withdraw_consent", {"purpose": "location"}), view())
    assert kind.retry(effects.states[-1], CONTEXT, NOW) == effects.commands
    assert kind.retry(effects.states[-1], RightsContext(CONTEXT.rights), NOW) == []
