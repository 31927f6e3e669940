"""rectify: update commands with the new values; the values stay out of the state and the audit."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rights_cases import CONTEXT, NOW, check_records, request, summary, view

from processors.rights import REQUEST_TYPES

UPDATES = [("update", "orders"), ("update", "logs")]
EMAIL = "alice.new@example.com"


@pytest.mark.parametrize(("details", "expected"), [
    ({"contact.email": EMAIL, "message": "new address"},
     {"status": "in_progress", "audits": ["request_received", "command", "command"], "commands": UPDATES,
      "exports": 0, "shred": False, "consent": None, "failed": False}),
    ({"phone": "+44 7700 900077", "contact.email": EMAIL},
     {"status": "in_progress", "audits": ["request_received", "command", "command"], "commands": UPDATES,
      "exports": 0, "shred": False, "consent": None, "failed": False}),
    ({"message": "please fix my email"},
     {"status": "failed", "audits": ["request_received", "request_failed"], "commands": [], "exports": 0,
      "shred": False, "consent": None, "failed": True}),
    ({}, {"status": "failed", "audits": ["request_received", "request_failed"], "commands": [], "exports": 0,
          "shred": False, "consent": None, "failed": True}),
])
def test_rectify(details: dict[str, str], expected: dict[str, Any]) -> None:
    effects = REQUEST_TYPES["rectify"].accept(request("rectify", details), view())
    check_records(effects)
    assert summary(effects) == expected
    for command in effects.commands:
        assert command["updates"] == {k: v for k, v in details.items() if k != "message"}
    kept = orjson.dumps([effects.states, effects.audits]).decode()
    assert EMAIL not in kept and "7700" not in kept


def test_the_audit_names_the_fields_only() -> None:
    effects = REQUEST_TYPES["rectify"].accept(request("rectify", {"phone": "1", "contact.email": EMAIL}), view())
    assert {a["details"]["fields"] for a in effects.audits if a["action"] == "command"} == {"contact.email,phone"}


def test_a_retry_cannot_rebuild_the_values() -> None:
    effects = REQUEST_TYPES["rectify"].accept(request("rectify", {"contact.email": EMAIL}), view())
    assert REQUEST_TYPES["rectify"].retry(effects.states[-1], CONTEXT, NOW) == []
