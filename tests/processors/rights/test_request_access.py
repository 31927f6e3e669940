"""access: export commands to every store, Lethe's own part (consent, holds, deadlines, requests) at once."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rights_cases import CONSENT, CONTEXT, NOW, check_records, hold, request, summary, view

from processors.exportkeys import open_part
from processors.records import sharing_entry
from processors.rights import REQUEST_TYPES, Effects, new_state

EXPORTS = [("export", "orders"), ("export", "logs")]
DEADLINE = {"timer": "orders-completed/o-1", "rule": "orders-completed", "action": "anonymize",
            "family": "orders", "record_key": "o-1", "due_at": "2033-11-21T09:15:00Z"}
SHARED = tuple(sharing_entry("cust-8841", "parcelco", category, basis="contract", region="EU",
                            first_shared_at=NOW - 86_400, last_shared_at=last, count=2, purpose="order_fulfilment",
                            safeguard="adequacy")
               for category, last in (("identity.name", NOW - 3600), ("contact.address", NOW - 1800)))
EARLIER = new_state(request("erase", request_id="req-0"), CONTEXT.rights, NOW - 86_400)


def document(effects: Effects, part: dict[str, Any]) -> dict[str, Any]:
    """A part as the request's key opens it (sealed: none of its contents are in clear)."""
    content: dict[str, Any] = orjson.loads(open_part(effects.states[-1]["export"]["private_key"], part)["document"])
    return content


@pytest.mark.parametrize(("changes", "content"), [
    ({}, {"consent": None, "legal_holds": [], "requests": [], "recipients": [], "pending_deadlines": []}),
    ({"consent": CONSENT, "holds": (hold("h-1", "o-1"),), "deadlines": (DEADLINE,), "requests": (EARLIER,),
      "shared": SHARED},
     {"consent": CONSENT,
      "legal_holds": [{"hold_id": "h-1", "order_id": "o-1", "case_ref": "case-7", "placed_at": "2026-11-20T00:00:00Z"}],
      "requests": [{"request_id": "req-0", "type": "erase", "status": "received", "received_at": EARLIER["received_at"],
                    "due_at": EARLIER["due_at"], "completed_at": None}],
      "recipients": [{"partner": "parcelco", "categories": ["contact.address", "identity.name"],
                      "first_shared_at": "2026-11-20T09:15:02.500000Z", "last_shared_at": "2026-11-21T08:45:02.500000Z",
                      "basis": "contract", "region": "EU", "safeguard": "adequacy", "purpose": "order_fulfilment"}],
      "pending_deadlines": [DEADLINE]}),
])
def test_access(changes: dict[str, Any], content: dict[str, Any]) -> None:
    effects = REQUEST_TYPES["access"].accept(request("access"), view(**changes))
    check_records(effects)
    assert summary(effects) == {"status": "in_progress", "audits": ["request_received", "export_requested"],
                                "commands": EXPORTS, "exports": 1, "shred": False, "consent": None, "failed": False}
    (part,) = effects.exports
    assert (part["source"], part["chunk"], part["chunks"], part["subject"]) == ("lethe", 0, 1, "cust-8841")
    assert document(effects, part) == content
    # one part from Lethe, one per command and store
    assert effects.states[-1]["export"]["parts"] == 1 + 2 * 2
    assert effects.audits[-1]["details"]["parts_expected"] == "5"


def test_many_deadlines_are_chunked_and_only_the_first_part_holds_the_rest() -> None:
    deadlines = tuple({**DEADLINE, "timer": f"orders-completed/o-{n}", "record_key": f"o-{n:0>200}"}
                      for n in range(3000))
    effects = REQUEST_TYPES["access"].accept(request("access"), view(deadlines=deadlines, consent=CONSENT))
    check_records(effects)
    parts = [document(effects, p) for p in effects.exports]
    assert len(parts) > 1 and all(p["chunks"] == len(parts) for p in effects.exports)
    assert [p["chunk"] for p in effects.exports] == list(range(len(parts)))
    assert parts[0]["consent"] == CONSENT and all(set(p) == {"pending_deadlines"} for p in parts[1:])
    assert [d for p in parts for d in p["pending_deadlines"]] == list(deadlines)


def test_an_export_completes_with_export_ready_and_retries_its_commands() -> None:
    kind = REQUEST_TYPES["access"]
    effects = kind.accept(request("access"), view())
    assert kind.export and not kind.erasure
    assert kind.retry(effects.states[-1], CONTEXT, NOW) == effects.commands
