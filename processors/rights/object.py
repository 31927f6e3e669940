"""object (policy section 5): the subject's records no longer reach the outputs of the purpose
objected to (``details.purpose``), or any output if none is named; lifted like a restriction."""

from __future__ import annotations

from processors.rights.base import Request
from processors.rights.effects import Effects, RequestType, SubjectView, received, refused
from processors.rights.gating import gate, lift

REASON = "object"


def accept(request: Request, view: SubjectView) -> Effects:
    state, audits = received(request, view)
    if request.details.get("action") == "lift":
        return lift(request, state, audits, view)
    purpose = request.details.get("purpose")
    if not purpose:
        return gate(state, audits, view, ["*"], REASON)
    purposes = view.context.output_purposes
    outputs = [o for o, p in purposes.items() if p == purpose]
    if not outputs:   # nothing would change: say so rather than complete silently
        known = ", ".join(sorted(set(purposes.values())))
        return refused(state, audits, view.now, f"no output serves that purpose (the outputs' purposes: {known})")
    return gate(state, audits, view, outputs, REASON)


TYPE = RequestType(accept, gate=REASON)
