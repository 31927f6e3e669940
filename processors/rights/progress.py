"""A request after it is accepted: store agents' acks complete it; deadlines make it overdue; stores
that do not ack in time get its commands again. Pure: a state in, the new state and what to
publish out (streams/requests.py saves and publishes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.retention import iso, parse_time
from processors.rights.base import OPEN, request_audit, waiting_for
from processors.rights.effects import RequestType, RightsContext, State
from processors.rights.receipt import receipt_details


@dataclass(frozen=True)
class AckOutcome:
    state: State | None                       # to save; None: the ack changes nothing (a replay)
    audits: list[dict[str, Any]] = field(default_factory=list)
    erasure_seconds: float | None = None      # an erasure this ack completed: how long it took


def on_ack(state: State, kind: RequestType, command_id: str, store: str, status: str, rows_affected: str,
           now: float) -> AckOutcome:
    """A store agent's ack of one of the request's commands; the last one missing completes it."""
    if command_id == (state.get("export") or {}).get("written_id"):   # `lethe request export` wrote it
        destroyed = destroy_export_key(state, now, "written")
        return AckOutcome(None) if destroyed is None else AckOutcome(destroyed[0], [destroyed[1]])
    key = f"{command_id}|{store}"
    if state["acks"].get(key) == status:
        return AckOutcome(None)   # a replayed ack
    state = {**state, "acks": {**state["acks"], key: status}, "acked_at": {**state.get("acked_at", {}), key: iso(now)}}
    audits = [request_audit(state, "ack", now, f"ack:{key}:{status}", {
        "command_id": command_id, "store": store, "ack_status": status, "rows_affected": rows_affected})]
    erasure_seconds = None
    if state["status"] in OPEN and not waiting_for(state):
        state["status"], state["completed_at"] = "completed", iso(now)
        took = now - parse_time(state["received_at"])
        if kind.erasure:
            erasure_seconds = max(took, 0.0)
        audits.append(request_audit(state, "completion", now, "completed",
                                    {"seconds_to_complete": f"{took:.3f}", **receipt_details(state)}))
        if kind.export:
            audits.append(export_ready(state, now))
    return AckOutcome(state, audits, erasure_seconds)


def export_ready(state: State, now: float) -> dict[str, Any]:
    """The audit record saying that a complete export request's parts are all in."""
    return request_audit(state, "export_ready", now, "export_ready", {
        "parts": str(state["export"]["parts"]), "write_with": f"lethe request export {state['request_id']} --out DIR"})


def destroy_export_key(state: State, now: float, by: str) -> tuple[State, dict[str, Any]] | None:
    """The request's state without its export key (``by``: written, expired, erasure) and the audit
    record saying so; None if it holds none. Its parts on privacy.exports.v1 can no longer be opened."""
    export = state.get("export") or {}
    if not export.get("private_key"):
        return None
    state = {**state, "export": {**export, "private_key": None, "key_destroyed_at": iso(now), "key_destroyed_by": by}}
    return state, request_audit(state, "export_key_destroyed", now, "export_key_destroyed", {
        "by": by, "effect": "the request's export parts on the exports topic can no longer be decrypted"})


def on_key_expiry(state: State, ttl_s: float, now: float) -> tuple[State, dict[str, Any]] | None:
    """A closed export request whose key has outlived ``ttl_s`` since it closed: the key destroyed."""
    if state["status"] in OPEN or not (state.get("export") or {}).get("private_key"):
        return None
    if now - parse_time(state.get("completed_at") or state["accepted_at"]) <= ttl_s:
        return None
    return destroy_export_key(state, now, "expired")


@dataclass(frozen=True)
class TickOutcome:
    state: State | None                       # to save; None: nothing changed
    audits: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)   # sent again (lifecycle.commands.v1)
    waiting_for: list[str] = field(default_factory=list)           # the stores retried, when it was retried
    partner_commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # (partner, command) again


def on_tick(state: State, kind: RequestType, context: RightsContext, now: float) -> TickOutcome:
    """An open request at ``now``: overdue past its due date; its commands again for the stores
    that have not acked within the ack timeout since they were last sent."""
    if state["status"] not in OPEN:
        return TickOutcome(None)
    new = dict(state)
    audits = []
    if new["status"] != "overdue" and now > parse_time(new["due_at"]):
        new["status"] = "overdue"
        audits.append(request_audit(new, "overdue", now, "overdue"))
    missing = waiting_for(new)
    sent = new.get("sent_at")
    if not (missing and sent and now - parse_time(sent) > context.rights.ack_timeout_s):
        return TickOutcome(new if audits else None, audits)
    new["retries"] += 1
    new["sent_at"] = iso(now)
    partners: dict[str, str] = new.get("partners") or {}   # store -> partner (processors/sharing.py)
    wanted: dict[str, set[str]] = {}
    for command_id, store in missing:
        wanted.setdefault(command_id, set()).add(store)
    commands, copies = [], []
    for command in kind.retry(new, context, now):
        waiting = wanted.get(command["command_id"], set())
        if waiting - set(partners):   # a store of the policy's: the shared commands topic
            commands.append(command)
        copies += [(partners[s], command) for s in sorted(waiting & set(partners))]
    stores = sorted({s for _, s in missing})
    audits.append(request_audit(new, "retry", now, f"retry:{new['retries']}", {
        "waiting_for": ",".join(stores), "retry": str(new["retries"])}))
    return TickOutcome(new, audits, commands, stores, copies)
