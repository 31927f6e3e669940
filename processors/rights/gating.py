"""What restriction, objection and quarantine share: a request that holds a subject's records back
from outputs, its lifting, and the gates that the requests in force add up to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from processors.retention import iso
from processors.rights.base import Request, request_audit
from processors.rights.effects import Effects, State, SubjectView, completed


def lift(request: Request, state: State, audits: list[dict[str, Any]], view: SubjectView) -> Effects:
    """``details.action = "lift"``: lift the subject's earlier requests of the same type."""
    lifted = [{**other, "lifted_at": iso(view.now)} for other in view.requests
              if other["type"] == request.type and not other.get("lifted_at")]
    state["outputs"] = []   # the lift itself gates nothing
    completed(state, view.now)
    audits.append(request_audit(state, "gate_lifted", view.now, "lifted", {"requests_lifted": str(len(lifted))}))
    return Effects(states=[*lifted, state], audits=audits)


def gate(state: State, audits: list[dict[str, Any]], view: SubjectView, outputs: list[str], reason: str) -> Effects:
    """Hold the subject's records back from ``outputs`` (``["*"]``: every output) from now on."""
    state["outputs"] = outputs
    completed(state, view.now)
    names = view.context.output_names
    audits.append(request_audit(state, "gate", view.now, "gate", {
        "outputs": ",".join(names[o] for o in outputs) if outputs != ["*"] else "all", "reason": reason}))
    return Effects(states=[state], audits=audits)


def gates_from(states: Iterable[State], reasons: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Subject -> output -> reason, for the gating requests ``states`` (reasons: request type -> reason).

    A lifted request gates nothing; the first request to gate an output gives its reason.
    """
    gates: dict[str, dict[str, str]] = {}
    for state in states:
        if state.get("lifted_at"):
            continue
        reason = reasons[state["type"]]
        outputs = state["outputs"] if state.get("outputs") is not None else ["*"]
        if outputs:
            target = gates.setdefault(state["subject"], {})
            for output in outputs:
                target.setdefault(output, reason)
    return gates
