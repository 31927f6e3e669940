"""minor_flag: quarantined from every output at once, then erased as for erase (or suspended by a hold)."""

from __future__ import annotations

from typing import Any

import pytest
from rights_cases import check_records, hold, request, summary, view

from processors.rights import REQUEST_TYPES, gates

DELETES = [("delete", "orders"), ("delete", "logs")]


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, {"status": "in_progress", "audits": ["request_received", "quarantine", "command", "command", "shred"],
          "commands": DELETES, "exports": 0, "shred": True, "consent": None, "failed": False}),
    ({"holds": (hold("h-1"),)},   # quarantined even so: quarantine deletes nothing
     {"status": "in_progress", "audits": ["request_received", "quarantine", "suspended"], "commands": [],
      "exports": 0, "shred": False, "consent": None, "failed": False}),
])
def test_minor_flag(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    effects = REQUEST_TYPES["minor_flag"].accept(request("minor_flag"), view(**changes))
    check_records(effects)
    assert summary(effects) == expected
    assert effects.states[-1]["outputs"] == ["*"]
    assert gates(effects.states) == {"cust-8841": {"*": "quarantine"}}


def test_a_minor_flag_resumes_and_completes_like_an_erasure() -> None:
    kind = REQUEST_TYPES["minor_flag"]
    assert kind.erasure and kind.resume is REQUEST_TYPES["erase"].resume
