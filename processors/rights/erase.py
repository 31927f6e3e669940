"""erase (policy section 5): every store deletes the subject's rows, its secret is destroyed (its
earlier pseudonyms can no longer be linked), its consent history is forgotten but for its refusals.
A legal hold on the subject suspends the erasure until the last hold on it is released."""

from __future__ import annotations

from typing import Any

from processors.consent import after_erasure
from processors.retention import parse_time
from processors.rights.base import Request, erase_commands, request_audit
from processors.rights.effects import (
    ConsentWrite,
    Effects,
    RequestType,
    RightsContext,
    State,
    SubjectView,
    partner_copies,
    received,
    sent,
    to_recipients,
)
from processors.rights.progress import destroy_export_key
from processors.rights.receipt import erasure_facts


def accept(request: Request, view: SubjectView) -> Effects:
    state, audits = received(request, view)
    return erase_unless_held(request, state, audits, view)


def erase_unless_held(request: Request, state: State, audits: list[dict[str, Any]], view: SubjectView) -> Effects:
    if view.holds:   # a legal hold suspends the erasure until it is released (policy 3.1)
        state["status"], state["suspended_by"] = "in_progress", sorted(h.hold_id for h in view.holds)
        audits.append(request_audit(state, "suspended", view.now, "suspended",
                                    {"hold_ids": ",".join(state["suspended_by"])}))
        return Effects(states=[state], audits=audits)
    return erase(request, state, audits, view)


def erase(request: Request, state: State, audits: list[dict[str, Any]], view: SubjectView) -> Effects:
    now = view.now
    commands = erase_commands(request, now, parse_time(state["due_at"]), view.context.rights.families)
    partners = to_recipients(state, view)   # the partners that received the subject's data, and no other
    sent(state, commands, now)
    for command in commands:
        audits.append(request_audit(state, "command", now, command["command_id"], {
            "command_id": command["command_id"], "command_action": "delete",
            "family": command["selector"]["family"], "stores": ",".join(state["stores"]),
            "partners": ",".join(sorted(partners.values()))}))
    consent = ConsentWrite(after_erasure(view.consent)) if view.context.consent is not None else None
    audits.append(request_audit(state, "shred", now, "shred",
                                {"secret": "destroyed" if view.secret_held else "none held by this worker",
                                 "effect": "earlier pseudonyms of the subject can no longer be linked"}))
    keyless = [done for other in view.requests if (done := destroy_export_key(other, now, "erasure")) is not None]
    audits += [audit for _, audit in keyless]
    state["receipt"] = erasure_facts(view, [other["request_id"] for other, _ in keyless])
    return Effects(states=[*(other for other, _ in keyless), state], commands=commands,
                   partner_commands=partner_copies(partners, commands),
                   audits=audits, shred=True, consent=consent)


def resume(state: State, view: SubjectView) -> Effects | None:
    """After a hold's release: the erasure it suspended, if no hold is left on the subject."""
    if not state.get("suspended_by") or view.holds:
        return None
    state = dict(state)
    audits = [request_audit(state, "resumed", view.now, "resumed", {"hold_ids": ",".join(state["suspended_by"])})]
    state["suspended_by"] = None
    return erase(request_of(state), state, audits, view)


def request_of(state: State) -> Request:
    """The request a state tracks, without its details (they are not kept)."""
    return Request(state["request_id"], state["type"], state["subject"], state["received_at"], state["channel"], {})


def retry(state: State, context: RightsContext, now: float) -> list[dict[str, Any]]:
    return erase_commands(request_of(state), now, parse_time(state["due_at"]), context.rights.families)


TYPE = RequestType(accept, retry=retry, resume=resume, erasure=True)
