"""Data-subject requests (policy sections 5 and 8): one module per request type, registered here.

Each type is a module with ``accept(request, view) -> Effects`` (processors/rights/effects.py) and a
``TYPE`` entry (its retry, resume and traits); ``REQUEST_TYPES`` maps the type's name, as in
schemas/privacy-requests.v1.avsc, to that entry. streams/requests.py builds the subject's view,
calls the entry and applies the effects; docs/architecture.md shows how to add a type.
"""

from __future__ import annotations

from collections.abc import Iterable

from processors.rights import (
    access,
    erase,
    minor_flag,
    portability,
    rectify,
    restrict,
    withdraw_consent,
)
from processors.rights import object as objection
from processors.rights.base import (
    CHANNELS,
    IDENTIFIER,
    OPEN,
    STATUSES,
    Request,
    Rights,
    due_date,
    erase_commands,
    export_commands,
    new_state,
    parse_rights,
    per_family,
    rectify_commands,
    request_audit,
    request_command_id,
    waiting_for,
    withdrawal_commands,
)
from processors.rights.effects import (
    UNHANDLED,
    ConsentWrite,
    Effects,
    RequestType,
    RightsContext,
    State,
    SubjectView,
)
from processors.rights.gating import gates_from
from processors.rights.progress import AckOutcome, TickOutcome, on_ack, on_key_expiry, on_tick

REQUEST_TYPES: dict[str, RequestType] = {
    "access": access.TYPE,
    "rectify": rectify.TYPE,
    "erase": erase.TYPE,
    "restrict": restrict.TYPE,
    "object": objection.TYPE,
    "portability": portability.TYPE,
    "withdraw_consent": withdraw_consent.TYPE,
    "minor_flag": minor_flag.TYPE,
}

# request type -> the reason its requests hold a subject's records back from outputs
GATING = {name: kind.gate for name, kind in REQUEST_TYPES.items() if kind.gate is not None}


def kind_of(request_type: str) -> RequestType:
    """The registered handling of a request type (one this version does not know fails)."""
    return REQUEST_TYPES.get(request_type, UNHANDLED)


def accept(request: Request, view: SubjectView) -> Effects:
    return kind_of(request.type).accept(request, view)


def gates(states: Iterable[State]) -> dict[str, dict[str, str]]:
    """Subject -> output -> reason, for the gating requests among ``states``."""
    return gates_from((s for s in states if s["type"] in GATING), GATING)


__all__ = [
    "CHANNELS",
    "GATING",
    "IDENTIFIER",
    "OPEN",
    "REQUEST_TYPES",
    "STATUSES",
    "AckOutcome",
    "ConsentWrite",
    "Effects",
    "Request",
    "RequestType",
    "Rights",
    "RightsContext",
    "State",
    "SubjectView",
    "TickOutcome",
    "accept",
    "due_date",
    "erase_commands",
    "export_commands",
    "gates",
    "kind_of",
    "new_state",
    "on_ack",
    "on_key_expiry",
    "on_tick",
    "parse_rights",
    "per_family",
    "rectify_commands",
    "request_audit",
    "request_command_id",
    "waiting_for",
    "withdrawal_commands",
]
