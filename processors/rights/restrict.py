"""restrict (policy section 5): the subject's records reach no output until the restriction is
lifted (a later ``restrict`` with ``details.action = "lift"``)."""

from __future__ import annotations

from processors.rights.base import Request
from processors.rights.effects import Effects, RequestType, SubjectView, received
from processors.rights.gating import gate, lift

REASON = "restrict"


def accept(request: Request, view: SubjectView) -> Effects:
    state, audits = received(request, view)
    if request.details.get("action") == "lift":
        return lift(request, state, audits, view)
    return gate(state, audits, view, ["*"], REASON)


TYPE = RequestType(accept, gate=REASON)
