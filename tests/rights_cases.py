"""Plain data for the request-type tests (tests/processors/rights/): a request, the subject's view
and a summary of the effects, so that each test file is a table of cases.

Here (on the tests' path) rather than in a conftest because tables are built at import time.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
import fastavro.validation

from processors.consent import ConsentPolicy
from processors.retention import Hold, parse_time
from processors.rights import Effects, Request, Rights, RightsContext, SubjectView

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
NOW = parse_time("2026-11-21T09:15:02.5Z")
SUBJECT = "cust-8841"
CONTEXT = RightsContext(
    Rights(stores=("shop-db", "crm")),
    ConsentPolicy(collected={"location": ("location.precise",)}),
    "2026-11-01",
    {"orders.anonymized.v1": "analytics", "logs.anonymized.v1": "security"},
    {"orders.anonymized.v1": "t.orders.anonymized.v1", "logs.anonymized.v1": "t.logs.anonymized.v1"},
)
GRANTED = {"event_id": "c-1", "purpose": "marketing", "granted": True, "policy_version": "2026-11-01",
           "source": "api", "occurred_at": "2026-11-01T00:00:00Z"}
REFUSED = {**GRANTED, "event_id": "c-2", "purpose": "analytics", "granted": False}
CONSENT = {"current": {"marketing": GRANTED, "analytics": REFUSED}, "history": [GRANTED, REFUSED]}


def request(request_type: str, details: dict[str, str] | None = None, request_id: str = "req-1",
            channel: str = "help_center") -> Request:
    return Request(request_id, request_type, SUBJECT, "2026-11-21T09:15:00Z", channel, dict(details or {}))


def view(**changes: Any) -> SubjectView:
    return replace(SubjectView(SUBJECT, NOW, CONTEXT), **changes)


def hold(hold_id: str, order_id: str | None = None) -> Hold:
    return Hold(hold_id, "place", SUBJECT, order_id, "case-7", "2026-11-20T00:00:00Z")


def summary(effects: Effects) -> dict[str, Any]:
    """What a table row states about the effects: the request's status, the audit actions, the
    commands' actions per family, and which other effects there are."""
    state = effects.states[-1]
    return {
        "status": state["status"],
        "audits": [a["action"] for a in effects.audits],
        "commands": [(c["action"], c["selector"]["family"]) for c in effects.commands],
        "exports": len(effects.exports),
        "shred": effects.shred,
        "consent": None if effects.consent is None else effects.consent.state,
        "failed": effects.failed,
    }


@cache
def schema(name: str) -> Any:
    return fastavro.parse_schema(json.loads((SCHEMAS / f"{name}.avsc").read_text(encoding="utf-8")))


def check_records(effects: Effects) -> None:
    """Every record the effects publish is valid for its topic's schema; ids are deterministic."""
    for command in effects.commands:
        assert fastavro.validation.validate(command, schema("lifecycle.commands.v1"), raise_errors=True)
    for audit in effects.audits:
        assert fastavro.validation.validate(audit, schema("privacy.audit.v1"), raise_errors=True)
    for part in effects.exports:
        assert fastavro.validation.validate(part, schema("privacy.exports.v1"), raise_errors=True)
    ids = [a["audit_id"] for a in effects.audits]
    assert len(set(ids)) == len(ids)
