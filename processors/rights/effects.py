"""What a request type is handed and what it hands back: plain data, no I/O.

A request type (one module per type, registered in ``REQUEST_TYPES``) is a function
``accept(request, view) -> Effects``: the :class:`SubjectView` is a read-only picture of the
subject's state that streams/requests.py builds before the call, and the :class:`Effects` say
what to change, publish and destroy; streams/requests.py applies them and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.consent import ConsentPolicy
from processors.retention import Hold, iso
from processors.rights.base import Request, Rights, new_state, request_audit
from processors.rights.receipt import RawTopic
from processors.sharing import Recipient, partner_stores

State = dict[str, Any]   # a request's tracked state (processors.rights.base.new_state), as stored


@dataclass(frozen=True)
class RightsContext:
    """The worker's policy, as requests see it (the same for every subject)."""

    rights: Rights
    consent: ConsentPolicy | None = None   # None: this worker keeps no consent state
    consent_version: str = ""
    output_purposes: Mapping[str, str] = field(default_factory=dict)   # output -> its purpose
    output_names: Mapping[str, str] = field(default_factory=dict)      # output -> its topic's name
    partners: Mapping[str, Recipient] = field(default_factory=dict)   # the policy's partners, by name
    # input topics that keep raw records until their retention expires them, by name (an erasure's receipt)
    raw_topics: Mapping[str, RawTopic] = field(default_factory=dict)


@dataclass(frozen=True)
class SubjectView:
    """The subject's state when its request is handled (read only: nothing here is changed)."""

    subject: str
    now: float
    context: RightsContext
    holds: tuple[Hold, ...] = ()                  # legal holds in force on the subject
    consent: Mapping[str, Any] | None = None      # its consent state (processors.consent)
    requests: tuple[State, ...] = ()              # its other requests, open or not
    secret_held: bool = False                     # whether this worker holds its secret
    secret_partitions: tuple[int, ...] = ()       # the partitions whose state holds it
    deadlines: tuple[Mapping[str, Any], ...] = ()   # its pending retention deadlines (export types only)
    shared: tuple[Mapping[str, Any], ...] = ()    # its sharing-ledger entries (processors/sharing.py)


@dataclass(frozen=True)
class ConsentWrite:
    """The subject's consent state to store; None tombstones it."""

    state: dict[str, Any] | None


@dataclass(frozen=True)
class Effects:
    """What handling a request does. Applied in this order: states saved, consent stored,
    secret shredded; then commands, export parts and audit records published."""

    states: list[State] = field(default_factory=list)         # request states to save (the request's last)
    commands: list[dict[str, Any]] = field(default_factory=list)   # lifecycle.commands.v1
    # (partner, command): also on partners.<partner>.commands.v1, for the partners that received the subject
    partner_commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)    # privacy.exports.v1 parts
    audits: list[dict[str, Any]] = field(default_factory=list)     # privacy.audit.v1
    shred: bool = False                        # destroy the subject's secret (crypto-shredding)
    consent: ConsentWrite | None = None        # the subject's consent state changes
    consent_decisions: list[tuple[str, str]] = field(default_factory=list)   # (purpose, outcome), for metrics
    failed: bool = False                       # the request was refused (counted per type)


Accept = Callable[[Request, SubjectView], Effects]
Resume = Callable[[State, SubjectView], "Effects | None"]
Retry = Callable[[State, RightsContext, float], list[dict[str, Any]]]


def no_commands(state: State, context: RightsContext, now: float) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class RequestType:
    """One entry of ``REQUEST_TYPES``: a request type's handler and traits."""

    accept: Accept
    retry: Retry = no_commands        # its commands again, rebuilt from the state (for stores that did not ack)
    resume: Resume | None = None      # carry out what a legal hold suspended, once none is left
    gate: str | None = None           # the reason its requests hold records back from outputs
    erasure: bool = False             # its completion time is an erasure's (lethe_erasure_seconds)
    export: bool = False              # it exports the subject's data (sees its deadlines; export_ready)


# --- helpers for the request types ---------------------------------------------------------------

def received(request: Request, view: SubjectView) -> tuple[State, list[dict[str, Any]]]:
    """A new request's state and its ``request_received`` audit record."""
    state = new_state(request, view.context.rights, view.now)
    return state, [request_audit(state, "request_received", view.now, "received", {"channel": request.channel})]


def refused(state: State, audits: list[dict[str, Any]], now: float, reason: str, **changes: Any) -> Effects:
    """The request fails with ``reason`` (no personal value in it: it is stored and audited)."""
    state["status"] = "failed"
    state["reason"] = reason
    audits.append(request_audit(state, "request_failed", now, "failed", {"reason": reason}))
    return Effects(states=[state], audits=audits, failed=True, **changes)


def not_handled(request: Request, view: SubjectView) -> Effects:
    state, audits = received(request, view)
    return refused(state, audits, view.now, f"request type {request.type} is not handled by this version of Lethe")


def sent(state: State, commands: list[dict[str, Any]], now: float) -> None:
    """Track ``commands`` in the state: the request waits for every store's ack of each."""
    state["commands"] = {c["command_id"]: c["selector"]["family"] for c in commands}
    state["status"], state["sent_at"] = "in_progress", iso(now)


def to_recipients(state: State, view: SubjectView) -> dict[str, str]:
    """Add the stores of the partners the ledger says received the subject's data to the stores the
    request waits for (store -> partner also kept in the state, for retries); return them."""
    partners = partner_stores(view.shared, view.context.partners)
    state["stores"] = list(dict.fromkeys([*state["stores"], *partners]))
    state["partners"] = partners
    state["partners_sent_at"] = iso(view.now)   # retries move sent_at on: a partner's wait counts from here
    return partners


def partner_copies(partners: Mapping[str, str], commands: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each command once more for every partner (published on its own commands topic)."""
    return [(partner, command) for partner in partners.values() for command in commands]


def completed(state: State, now: float) -> None:
    state["status"], state["completed_at"] = "completed", iso(now)


UNHANDLED = RequestType(not_handled)
