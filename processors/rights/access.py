"""access (policy section 5): every store exports the subject's rows; Lethe's own part (consent,
legal holds, pending deadlines, requests, the partners its data was shared with) is published at
once. Complete when every store's part is in (``lethe request export ID --out DIR`` writes them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from processors import records
from processors.chunks import chunked
from processors.exportkeys import new_key_pair, seal_part
from processors.retention import parse_time
from processors.rights.base import Request, export_commands, request_audit, request_command_id
from processors.rights.effects import (
    Effects,
    RequestType,
    RightsContext,
    State,
    SubjectView,
    completed,
    received,
    sent,
)
from processors.rights.erase import request_of
from processors.rights.progress import export_ready
from processors.sharing import recipients

REQUEST_FIELDS = ("request_id", "type", "status", "received_at", "due_at", "completed_at")
# what an export document says first: the request that produced it (docs/rights.md, "Exports")
EXPORT_FORMAT = "lethe.export.v2"
EXPORT_REQUEST_FIELDS = ("request_id", "type", "subject", "channel", "received_at", "accepted_at", "due_at",
                         "status", "completed_at", "stores")


def accept(request: Request, view: SubjectView) -> Effects:
    """Ask every store for the subject's rows; publish Lethe's own part now."""
    document: dict[str, Any] = {
        "consent": view.consent,
        "legal_holds": [{"hold_id": h.hold_id, "order_id": h.order_id, "case_ref": h.case_ref,
                         "placed_at": h.occurred_at} for h in view.holds],
        "requests": [{k: other[k] for k in REQUEST_FIELDS} for other in view.requests],
        # GDPR Art. 15(1)(c): the partners its data was disclosed to (the sharing ledger)
        "recipients": recipients(view.shared),
    }
    # the deadlines can be many: chunks of about 256 KB, the rest of the document with the first
    deadlines = chunked(list(view.deadlines), lambda d: len(orjson.dumps(d)))
    lethe = [{**(document if n == 0 else {}), "pending_deadlines": piece} for n, piece in enumerate(deadlines)]
    return exporting(request, view, lethe, lambda due: export_commands(request, view.now, due,
                                                                        view.context.rights.families))


def exporting(request: Request, view: SubjectView, lethe: list[dict[str, Any]],
              commands_due: Callable[[float], list[dict[str, Any]]]) -> Effects:
    """An export request: the stores' commands (``commands_due(due date)``) sent, Lethe's own part
    (its chunks ``lethe``) published; complete when every store has answered (at once if none is asked)."""
    state, audits = received(request, view)
    now = view.now
    private_key, public_key = new_key_pair()   # the private one in the state only (processors/exportkeys.py)
    state["export"] = {"parts": 0, "public_key": public_key, "private_key": private_key,
                       "written_id": request_command_id(request.request_id, "export", "written"),
                       "key_destroyed_at": None, "key_destroyed_by": None}
    commands = sealed_to(state, commands_due(parse_time(state["due_at"])))
    sent(state, commands, now)
    parts = [seal_part(public_key, export_part(request, content, now, n, len(lethe)))
             for n, content in enumerate(lethe)]
    state["export"]["parts"] = 1 + len(commands) * len(state["stores"])
    audits.append(request_audit(state, "export_requested", now, "export_requested", {
        "parts_expected": str(state["export"]["parts"]), "stores": ",".join(state["stores"])}))
    if not commands:
        completed(state, now)
        audits += [request_audit(state, "completion", now, "completed", {"note": "no store is asked"}),
                   export_ready(state, now)]
    return Effects(states=[state], commands=commands, exports=parts, audits=audits)


def export_part(request: Request, content: dict[str, Any], now: float, chunk: int, chunks: int) -> dict[str, Any]:
    """Lethe's own part of an export (schemas/privacy.exports.v1.avsc)."""
    return records.export_part(request.request_id, request.subject, "lethe", None, now,
                               orjson.dumps(content).decode(), chunk, chunks)


def sealed_to(state: State, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Export commands carrying the public key the stores seal their parts to."""
    return [{**command, "export_key": state["export"]["public_key"]} for command in commands]


def export_request(state: State) -> dict[str, Any]:
    """The head of an export document: the request as its tracked state holds it (no personal data
    but the subject, whose export it is)."""
    return {key: state.get(key) for key in EXPORT_REQUEST_FIELDS}


def retry(state: State, context: RightsContext, now: float) -> list[dict[str, Any]]:
    return sealed_to(state, export_commands(request_of(state), now, parse_time(state["due_at"]),
                                            context.rights.families))


TYPE = RequestType(accept, retry=retry, export=True)
