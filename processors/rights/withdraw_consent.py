"""withdraw_consent (policy sections 5 and 6): as a refusal on consent.v1, plus anonymizing in every
store what was collected only on that consent (the policy's ``[consent.collected]``)."""

from __future__ import annotations

from typing import Any

from processors.consent import PURPOSES, ConsentEvent, consent_audit, decide
from processors.retention import parse_time
from processors.rights.base import Request, request_audit, withdrawal_commands
from processors.rights.effects import (
    ConsentWrite,
    Effects,
    RequestType,
    RightsContext,
    State,
    SubjectView,
    completed,
    not_handled,
    received,
    refused,
    sent,
)
from processors.rights.erase import request_of


def accept(request: Request, view: SubjectView) -> Effects:
    policy = view.context.consent
    if policy is None:   # a worker that keeps no consent state cannot record the withdrawal
        return not_handled(request, view)
    state, audits = received(request, view)
    now = view.now
    purpose = request.details.get("purpose")
    if purpose not in PURPOSES:
        return refused(state, audits, now, f"withdraw_consent needs details.purpose, one of {', '.join(PURPOSES)}")
    event = ConsentEvent(f"{request.request_id}:withdrawal", request.occurred_at, request.subject, purpose,
                         False, view.context.consent_version, "support" if request.channel != "api" else "api")
    decision = decide(view.consent, event)
    audits.append(consent_audit(event, now, decision.current, cause=request.request_id))
    consent, decisions = ConsentWrite(decision.state), [(purpose, "refused")]
    categories = policy.collected.get(purpose, ())
    if not categories:
        completed(state, now)
        audits.append(request_audit(state, "completion", now, "completed",
                                    {"note": "nothing is collected only on this consent"}))
        return Effects(states=[state], audits=audits, consent=consent, consent_decisions=decisions)
    state["purpose"] = purpose
    commands = withdrawal_commands(request, purpose, categories, now, parse_time(state["due_at"]),
                                   view.context.rights.families)
    sent(state, commands, now)
    for command in commands:
        audits.append(request_audit(state, "command", now, command["command_id"], {
            "command_id": command["command_id"], "command_action": "anonymize",
            "family": command["selector"]["family"], "categories": ",".join(categories)}))
    return Effects(states=[state], commands=commands, audits=audits, consent=consent,
                   consent_decisions=decisions)


def retry(state: State, context: RightsContext, now: float) -> list[dict[str, Any]]:
    if context.consent is None:
        return []
    purpose = state.get("purpose") or ""
    return withdrawal_commands(request_of(state), purpose, context.consent.collected.get(purpose, ()), now,
                               parse_time(state["due_at"]), context.rights.families)


TYPE = RequestType(accept, retry=retry)
