"""portability: the subject's data as machine-readable export parts, carried out as access."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rights_cases import CONSENT, CONTEXT, NOW, check_records, hold, request, summary, view

from processors.rights import REQUEST_TYPES, on_ack

EXPORTS = [("export", "orders"), ("export", "logs")]


@pytest.mark.parametrize(("changes", "legal_holds"), [
    ({}, 0),
    ({"consent": CONSENT, "holds": (hold("h-1"), hold("h-2", "o-3"))}, 2),
])
def test_portability(changes: dict[str, Any], legal_holds: int) -> None:
    effects = REQUEST_TYPES["portability"].accept(request("portability", channel="api"), view(**changes))
    check_records(effects)
    assert summary(effects) == {"status": "in_progress", "audits": ["request_received", "export_requested"],
                                "commands": EXPORTS, "exports": 1, "shred": False, "consent": None, "failed": False}
    assert all(c["rule"] == "req-1" and c["cause"] == "request" for c in effects.commands)
    (part,) = effects.exports
    content = orjson.loads(part["document"])
    assert content["consent"] == changes.get("consent") and len(content["legal_holds"]) == legal_holds
    assert effects.states[-1]["type"] == "portability"
    assert effects.audits[0]["rule"] == "request.portability"


def test_portability_completes_when_every_store_has_sent_its_part() -> None:
    kind = REQUEST_TYPES["portability"]
    effects = kind.accept(request("portability"), view())
    state = effects.states[-1]
    acks = [(c["command_id"], store) for c in effects.commands for store in CONTEXT.rights.stores]
    for n, (command_id, store) in enumerate(acks):
        outcome = on_ack(state, kind, command_id, store, "applied", "3", NOW + n + 1)
        assert outcome.state is not None
        state = outcome.state
    assert state["status"] == "completed"
    assert [a["action"] for a in outcome.audits] == ["ack", "completion", "export_ready"]
    assert outcome.erasure_seconds is None
    assert kind.retry(effects.states[-1], CONTEXT, NOW) == effects.commands
