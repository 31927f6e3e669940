"""rectify (policy section 5): every store, and every partner the sharing ledger says received the
subject's data, writes the new values the request's details name
(``contact.email = ...`` or a column name). The values are personal data: they go into the
commands only, never into the state or the audit, so a retry cannot rebuild them."""

from __future__ import annotations

from processors.retention import parse_time
from processors.rights.base import Request, rectify_commands, request_audit
from processors.rights.effects import (
    Effects,
    RequestType,
    SubjectView,
    partner_copies,
    received,
    refused,
    sent,
    to_recipients,
)


def accept(request: Request, view: SubjectView) -> Effects:
    state, audits = received(request, view)
    now = view.now
    commands = rectify_commands(request, now, parse_time(state["due_at"]), view.context.rights.families)
    if not commands:
        return refused(state, audits, now, "rectify needs details naming the new values (category or column = value)")
    partners = to_recipients(state, view)   # the partners that received the subject's data, and no other
    sent(state, commands, now)
    fields = ",".join(sorted(commands[0]["updates"]))   # names only: the values are personal data
    for command in commands:
        audits.append(request_audit(state, "command", now, command["command_id"], {
            "command_id": command["command_id"], "command_action": "update",
            "family": command["selector"]["family"], "fields": fields, "stores": ",".join(state["stores"]),
            "partners": ",".join(sorted(partners.values()))}))
    return Effects(states=[state], commands=commands, partner_commands=partner_copies(partners, commands),
                   audits=audits)


TYPE = RequestType(accept)   # no retry: the new values are not kept in the state
