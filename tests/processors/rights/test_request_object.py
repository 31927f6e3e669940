"""object: the outputs of the purpose objected to (every output if none named) are gated."""

from __future__ import annotations

from typing import Any

import pytest
from rights_cases import CONTEXT, NOW, check_records, request, summary, view

from processors.rights import REQUEST_TYPES, gates, new_state

DONE = {"commands": [], "exports": 0, "shred": False, "consent": None, "failed": False}
GATED = {"status": "completed", "audits": ["request_received", "gate"], **DONE}


@pytest.mark.parametrize(("details", "expected", "outputs", "audited"), [
    ({"purpose": "analytics"}, GATED, ["orders.anonymized.v1"], "t.orders.anonymized.v1"),
    ({"purpose": "security"}, GATED, ["logs.anonymized.v1"], "t.logs.anonymized.v1"),
    ({}, GATED, ["*"], "all"),
    ({"purpose": ""}, GATED, ["*"], "all"),
    ({"purpose": "marketing"},
     {"status": "failed", "audits": ["request_received", "request_failed"], **DONE, "failed": True}, None, None),
])
def test_object(details: dict[str, str], expected: dict[str, Any], outputs: list[str] | None,
                audited: str | None) -> None:
    effects = REQUEST_TYPES["object"].accept(request("object", details), view())
    check_records(effects)
    assert summary(effects) == expected
    state = effects.states[-1]
    assert state["outputs"] == outputs
    if audited is not None:
        assert effects.audits[-1]["details"] == {"type": "object", "status": "completed",
                                                 "due_at": state["due_at"], "outputs": audited, "reason": "object"}
    else:
        assert state["reason"] == "no output serves that purpose (the outputs' purposes: analytics, security)"


def test_an_objection_gates_its_outputs_until_lifted() -> None:
    objection = REQUEST_TYPES["object"].accept(request("object", {"purpose": "analytics"}), view()).states[-1]
    assert gates([objection]) == {"cust-8841": {"orders.anonymized.v1": "object"}}
    restriction = new_state(request("restrict", request_id="req-r"), CONTEXT.rights, NOW) | {"outputs": ["*"]}
    lift = REQUEST_TYPES["object"].accept(request("object", {"action": "lift"}, "req-2"),
                                          view(requests=(objection, restriction)))
    assert [s["request_id"] for s in lift.states] == ["req-1", "req-2"]   # the restriction is not lifted
    assert gates([*lift.states, restriction]) == {"cust-8841": {"*": "restrict"}}
