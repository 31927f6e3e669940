"""Consent (policy sections 6 and 10): the policy's [consent] section, consent events, each
subject's consent state, and which outputs a subject's records may reach. Pure logic; the
partitioned state lives in streams/state/consent.py.

    [consent]
    material_versions = ["2026-11-01"]     # policy versions with material changes: consents
                                           # given under an older version are stale until renewed
    opt_in = ["marketing", "personalization", "third_party_sharing", "location", "cookies_advertising"]
    opt_out = ["analytics", "cookies_analytics"]
    session_choice_max_age = "395d"        # a cookie-banner choice of an anonymous session is
                                           # forgotten this long after it was made (13 months)

    [consent.collected]                    # data collected only on a consent, deleted on withdrawal
    location = ["location.precise"]

An output that lists ``consent = ["analytics", "cookies_analytics"]`` receives a subject's records
only while every listed purpose allows it: an opt-in purpose needs a current (not stale) grant; an
opt-out purpose is refused only by a withdrawal or refusal (a stale refusal still refuses).
Policy versions compare as strings, so use ISO dates (YYYY-MM-DD) or zero-padded numbers.

A choice made on the cookie banner before login is a *session's* choice (``consent.v1`` with a
``session_id`` and no ``customer_id``). A record is gated per purpose by its customer's own decision
if the customer has one, else by its session's choice, else by the default (:func:`record_gates`);
a record without a customer (an anonymous visitor) by its session's choice or the default.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.errors import PolicyError
from processors.records import audit_record
from processors.retention.rules import parse_duration
from processors.time import parse_time

PURPOSES = ("analytics", "personalization", "marketing", "location", "third_party_sharing",
            "cookies_analytics", "cookies_advertising")
SOURCES = ("cookie_banner", "account_settings", "api", "support")
HISTORY = 20   # decisions kept per subject in the state; the full history is consent.v1 and the audit
SESSION_HISTORY = 0   # a session's state is its current choice per purpose only: every worker holds them all
SESSION_CHOICE_MAX_AGE = 395 * 86_400.0   # 13 months, the longest a banner choice is kept (CNIL)


@dataclass(frozen=True)
class ConsentPolicy:
    material_versions: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ("marketing", "personalization", "third_party_sharing", "location",
                               "cookies_advertising")
    opt_out: tuple[str, ...] = ("analytics", "cookies_analytics")
    collected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    session_choice_max_age: float = SESSION_CHOICE_MAX_AGE   # seconds

    def stale_before(self, current_version: str) -> str | None:
        """The latest material version in force: consents under an older one are stale."""
        material = [v for v in self.material_versions if v <= current_version]
        return max(material) if material else None


def parse_consent_policy(raw: Any, categories: Sequence[str], origin: str) -> ConsentPolicy:
    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: consent.{message}")

    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [consent] must be a table")
    extra = set(raw) - {"material_versions", "opt_in", "opt_out", "collected", "session_choice_max_age"}
    if extra:
        raise PolicyError(f"policy {origin}: [consent]: unknown key(s) {', '.join(sorted(extra))}")
    default = ConsentPolicy()
    material = raw.get("material_versions", [])
    if not isinstance(material, list) or not all(isinstance(v, str) and v for v in material):
        raise fail("material_versions must list policy versions (strings)")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("opt_in", "opt_out"):
        value = raw.get(key, list(getattr(default, key)))
        if not isinstance(value, list) or any(p not in PURPOSES for p in value):
            raise fail(f"{key} must list consent purposes ({', '.join(PURPOSES)})")
        lists[key] = tuple(value)
    both = set(lists["opt_in"]) & set(lists["opt_out"])
    if both:
        raise fail(f"opt_in and opt_out both list {', '.join(sorted(both))}")
    collected_raw = raw.get("collected", {})
    if not isinstance(collected_raw, dict):
        raise fail("collected must be a table of purpose = [categories]")
    collected: dict[str, tuple[str, ...]] = {}
    for purpose, cats in collected_raw.items():
        if purpose not in PURPOSES:
            raise fail(f'collected."{purpose}": unknown consent purpose')
        if not isinstance(cats, list) or not cats or any(c not in categories for c in cats):
            raise fail(f'collected."{purpose}" must list data categories of the policy')
        collected[purpose] = tuple(cats)
    max_age = raw.get("session_choice_max_age")
    try:
        session_max_age = SESSION_CHOICE_MAX_AGE if max_age is None else parse_duration(max_age)
    except ValueError as exc:
        raise fail(f"session_choice_max_age = {max_age!r}: {exc}") from None
    return ConsentPolicy(tuple(material), lists["opt_in"], lists["opt_out"], collected, session_max_age)


@dataclass(frozen=True)
class ConsentEvent:
    event_id: str
    occurred_at: str
    subject: str
    purpose: str
    granted: bool
    policy_version: str
    source: str
    session: bool = False   # ``subject`` is a session id: a cookie-banner choice made before login

    @property
    def history(self) -> int:
        """How many decisions the subject's state keeps besides the current ones."""
        return SESSION_HISTORY if self.session else HISTORY


def apply_consent(state: dict[str, Any] | None, event: ConsentEvent) -> tuple[dict[str, Any], bool]:
    """The subject's state with ``event`` applied; True if it is now the purpose's current decision.

    The latest decision by ``occurred_at`` wins, whatever order events arrive in; a replayed event
    (same id) changes nothing. A session's state keeps no history (``event.history``).
    """
    state = state or {"current": {}, "history": []}
    current = state["current"].get(event.purpose)
    if (current is not None and current["event_id"] == event.event_id) or any(
            h["event_id"] == event.event_id for h in state["history"]):
        return state, False
    entry = {"event_id": event.event_id, "purpose": event.purpose, "granted": event.granted,
             "policy_version": event.policy_version, "source": event.source, "occurred_at": event.occurred_at}
    state["history"] = [*state["history"], entry][-event.history:] if event.history else []
    if current is not None and parse_time(current["occurred_at"]) > parse_time(event.occurred_at):
        return state, False
    state["current"][event.purpose] = entry
    return state, True


@dataclass(frozen=True)
class ConsentDecision:
    """A consent event applied to a subject's state: the state to store, and whether the event is
    now its purpose's current decision (False for an older decision or a replay)."""

    state: dict[str, Any]
    current: bool


def decide(state: Mapping[str, Any] | None, event: ConsentEvent) -> ConsentDecision:
    """The subject's new consent state after ``event``; ``state`` itself is left as it was."""
    new, current = apply_consent(copy.deepcopy(dict(state)) if state is not None else None, event)
    return ConsentDecision(new, current)


def after_erasure(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What an erasure keeps of a subject's consent state: its refusals only (None: nothing).

    A refusal must outlive the erasure, or the subject's later records (or those still in
    flight) would reach the outputs it refused. What is kept is the current refusal per
    purpose, nothing else; with no refusal the state is tombstoned.
    """
    refusals = {purpose: dict(decision)
                for purpose, decision in (state or {}).get("current", {}).items() if not decision["granted"]}
    return {"current": refusals, "history": [], "erased": True} if refusals else None


def consent_audit(event: ConsentEvent, now: float, current: bool, cause: str | None = None) -> dict[str, Any]:
    details = {"purpose": event.purpose, "granted": "true" if event.granted else "false",
               "policy_version": event.policy_version, "source": event.source, "event_id": event.event_id,
               "occurred_at": event.occurred_at, "current": "true" if current else "false (an older decision)"}
    if event.session:   # keyed by the session id: a banner choice made before login, no customer known
        details["subject_kind"] = "session"
    return audit_record("consent", event.subject, now, f"consent:{event.event_id}", rule=f"consent.{event.purpose}",
                        request_id=cause, details=details)


def refusal(state: Mapping[str, Any] | None, purpose: str, policy: ConsentPolicy, version: str) -> str | None:
    """Why ``purpose`` does not allow the subject's records now (None if it allows them)."""
    decision = (state or {}).get("current", {}).get(purpose)
    if purpose in policy.opt_out:
        return "consent_refused" if decision is not None and not decision["granted"] else None
    if decision is None or not decision["granted"]:
        return "consent_missing"
    stale = policy.stale_before(version)
    if stale is not None and decision["policy_version"] < stale:
        return "consent_stale"
    return None


def gates_for(state: Mapping[str, Any] | None, outputs: Mapping[str, Sequence[str]], policy: ConsentPolicy,
              version: str) -> dict[str, str]:
    """Output -> reason, for the consent-based outputs the subject's records may not reach."""
    return record_gates(state, None, outputs, policy, version)


def record_gates(customer: Mapping[str, Any] | None, session: Mapping[str, Any] | None,
                 outputs: Mapping[str, Sequence[str]], policy: ConsentPolicy, version: str) -> dict[str, str]:
    """Output -> reason, for the consent-based outputs a record may not reach.

    Per purpose: the customer's own decision if it has one (``customer``: its state, None for an
    anonymous record or a customer without decisions), else the choice of the record's session
    (``session``; reasons ``session_consent_refused`` ...), else the default (opt-in: missing).
    """
    own = (customer or {}).get("current", {})
    banner = (session or {}).get("current", {})
    gates = {}
    for output, purposes in outputs.items():
        for purpose in purposes:
            if purpose in own or purpose not in banner:
                reason = refusal(customer, purpose, policy, version)
            else:
                reason = refusal(session, purpose, policy, version)
                reason = f"session_{reason}" if reason is not None else None
            if reason is not None:
                gates[output] = f"{reason}.{purpose}"
                break
    return gates


def _order(decision: Mapping[str, Any]) -> tuple[float, str]:
    return parse_time(decision["occurred_at"]), decision["event_id"]


def merge_states(state: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Two copies of one session's state (one held, one read back from its changelog): per purpose
    the later decision (by ``occurred_at``, then event id), whichever copy has it; no history.
    Merging in any order gives the same state, so a worker reading back its own older write, or
    two writers of one session, never turn a newer choice into an older one."""
    if state is None or other is None:
        return _current_only(state if other is None else other)
    current = dict(state["current"])
    for purpose, decision in other["current"].items():
        held = current.get(purpose)
        if held is None or _order(decision) > _order(held):
            current[purpose] = decision
    return {"current": current, "history": []}


def expire_choices(state: Mapping[str, Any] | None, cutoff: float) -> dict[str, Any] | None:
    """A session's state without the choices made before ``cutoff`` (epoch seconds; see
    ``session_choice_max_age``); None when no choice is left."""
    if state is None:
        return None
    current = {p: d for p, d in state["current"].items() if parse_time(d["occurred_at"]) >= cutoff}
    return {"current": current, "history": []} if current else None


def _current_only(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return {"current": dict(state["current"]), "history": []} if state is not None and state["current"] else None
