"""restrict: every output gated until lifted; a lift lifts the subject's earlier restrictions."""

from __future__ import annotations

from typing import Any

import pytest
from rights_cases import CONTEXT, NOW, check_records, request, summary, view

from processors.rights import REQUEST_TYPES, gates, new_state

EARLIER = new_state(request("restrict", request_id="req-0"), CONTEXT.rights, NOW - 60) | {
    "status": "completed", "outputs": ["*"]}
OBJECTION = new_state(request("object", request_id="req-o"), CONTEXT.rights, NOW - 60) | {
    "status": "completed", "outputs": ["orders.anonymized.v1"]}
LIFTED = EARLIER | {"request_id": "req-00", "lifted_at": "2026-11-20T00:00:00Z"}
DONE = {"commands": [], "exports": 0, "shred": False, "consent": None, "failed": False}


@pytest.mark.parametrize(("details", "requests", "expected", "lifted"), [
    ({}, (), {"status": "completed", "audits": ["request_received", "gate"], **DONE}, []),
    ({"purpose": "analytics"}, (), {"status": "completed", "audits": ["request_received", "gate"], **DONE}, []),
    ({"action": "lift"}, (EARLIER, OBJECTION, LIFTED),
     {"status": "completed", "audits": ["request_received", "gate_lifted"], **DONE}, ["req-0"]),
    ({"action": "lift"}, (), {"status": "completed", "audits": ["request_received", "gate_lifted"], **DONE}, []),
])
def test_restrict(details: dict[str, str], requests: tuple[Any, ...], expected: dict[str, Any],
                  lifted: list[str]) -> None:
    effects = REQUEST_TYPES["restrict"].accept(request("restrict", details), view(requests=requests))
    check_records(effects)
    assert summary(effects) == expected
    assert [s["request_id"] for s in effects.states[:-1]] == lifted
    assert all(s["lifted_at"] is not None for s in effects.states[:-1])
    assert "lifted_at" not in EARLIER   # the view's states are not changed in place


def test_a_restriction_gates_every_output_and_its_lift_none() -> None:
    restriction = REQUEST_TYPES["restrict"].accept(request("restrict"), view()).states[-1]
    assert restriction["outputs"] == ["*"]
    assert gates([restriction]) == {"cust-8841": {"*": "restrict"}}
    lift = REQUEST_TYPES["restrict"].accept(request("restrict", {"action": "lift"}, "req-2"),
                                            view(requests=(restriction,)))
    assert gates(lift.states) == {}
    assert lift.audits[-1]["details"]["requests_lifted"] == "1"
