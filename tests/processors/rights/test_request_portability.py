"""portability: export commands for the families whose subjects provide fields, naming those fields'
categories; Lethe's own part is the subject's consent choices only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from rights_cases import CONSENT, CONTEXT, GRANTED, NOW, REFUSED, check_records, hold, request, summary, view

from processors.exportkeys import open_part
from processors.records import sharing_entry
from processors.rights import REQUEST_TYPES, new_state, on_ack
from processors.rights.portability import consent_choices

ORDERS = ("identity.name", "contact.email", "contact.address", "free_text")
PROVIDED = replace(CONTEXT, rights=replace(CONTEXT.rights, provided={"orders": ORDERS}))
CHOICE = ("occurred_at", "purpose", "granted", "source", "policy_version")
EARLIER = new_state(request("erase", request_id="req-0"), CONTEXT.rights, NOW - 86_400)
# a choice that came late (an older occurred_at than the current one for its purpose): history only
SHARED = (sharing_entry("cust-8841", "parcelco", "identity.name", basis="contract", region="EU", first_shared_at=NOW,
                        last_shared_at=NOW, count=1),)
LATE = {**GRANTED, "event_id": "c-0", "occurred_at": "2026-10-01T00:00:00Z", "granted": False}


def lethe_part(effects: Any) -> Any:
    (part,) = effects.exports
    assert (part["source"], part["family"], part["chunk"], part["chunks"]) == ("lethe", None, 0, 1)
    return orjson.loads(open_part(effects.states[-1]["export"]["private_key"], part)["document"])


@pytest.mark.parametrize(("provided", "commands"), [
    ({"orders": ORDERS}, [("orders", list(ORDERS))]),
    ({"orders": ORDERS, "logs": ("network.ip",)}, [("orders", list(ORDERS)), ("logs", ["network.ip"])]),
    ({"logs": ("network.ip",), "orders": ORDERS}, [("orders", list(ORDERS)), ("logs", ["network.ip"])]),  # policy order
    ({"orders": ORDERS, "returns": ("free_text",)}, [("orders", list(ORDERS))]),   # not a family of the policy
    ({"orders": ()}, []),
])
def test_commands_name_the_provided_categories_of_each_family(
        provided: dict[str, tuple[str, ...]], commands: list[tuple[str, list[str]]]) -> None:
    context = replace(PROVIDED, rights=replace(CONTEXT.rights, provided=provided))
    effects = REQUEST_TYPES["portability"].accept(request("portability"), view(context=context))
    check_records(effects)
    assert [(c["selector"]["family"], c["categories"]) for c in effects.commands] == commands
    assert all((c["action"], c["rule"], c["cause"], c["fields"]) == ("export", "req-1", "request", [])
               for c in effects.commands)
    assert effects.states[-1]["export"]["parts"] == 1 + len(commands) * len(CONTEXT.rights.stores)


@pytest.mark.parametrize(("changes", "choices"), [
    ({}, []),
    ({"consent": CONSENT}, [GRANTED, REFUSED]),
    ({"consent": {**CONSENT, "history": [LATE, GRANTED, REFUSED]}}, [LATE, GRANTED, REFUSED]),
    # an erasure keeps the current refusals only: those are the choices left
    ({"consent": {"current": {"analytics": REFUSED}, "history": [], "erased": True}}, [REFUSED]),
    # what Lethe decided itself is not the subject's to port
    ({"consent": CONSENT, "holds": (hold("h-1"),), "requests": (EARLIER,), "shared": SHARED,
      "deadlines": ({"timer": "t", "rule": "r", "action": "delete", "family": "orders", "record_key": "o-1",
                     "due_at": "2033-11-21T09:15:00Z"},)}, [GRANTED, REFUSED]),
])
def test_lethe_part_holds_the_consent_choices_only(changes: dict[str, Any], choices: list[dict[str, Any]]) -> None:
    effects = REQUEST_TYPES["portability"].accept(request("portability", channel="api"),
                                                  view(context=PROVIDED, **changes))
    check_records(effects)
    assert summary(effects) == {"status": "in_progress", "audits": ["request_received", "export_requested"],
                                "commands": [("export", "orders")], "exports": 1, "shred": False, "consent": None,
                                "failed": False}
    assert lethe_part(effects) == {"consent_choices": [{k: c[k] for k in CHOICE} for c in choices]}
    assert effects.audits[0]["rule"] == "request.portability"


def test_choices_are_in_time_order_once_each() -> None:
    later = {**GRANTED, "event_id": "c-9", "occurred_at": "2026-12-01T00:00:00Z"}
    state = {"current": {"marketing": later, "analytics": REFUSED}, "history": [later, REFUSED, GRANTED]}
    assert [c["occurred_at"] for c in consent_choices(state)] == [GRANTED["occurred_at"], REFUSED["occurred_at"],
                                                                 later["occurred_at"]]
    assert consent_choices(None) == []


def test_completes_when_every_store_has_sent_its_part_and_retries_the_same_commands() -> None:
    kind = REQUEST_TYPES["portability"]
    effects = kind.accept(request("portability"), view(context=PROVIDED))
    state = effects.states[-1]
    acks = [(c["command_id"], store) for c in effects.commands for store in CONTEXT.rights.stores]
    assert len(acks) == 2
    for n, (command_id, store) in enumerate(acks):
        outcome = on_ack(state, kind, command_id, store, "applied", "3", NOW + n + 1)
        assert outcome.state is not None
        state = outcome.state
    assert state["status"] == "completed"
    assert [a["action"] for a in outcome.audits] == ["ack", "completion", "export_ready"]
    assert kind.export and not kind.erasure and outcome.erasure_seconds is None
    assert kind.retry(effects.states[-1], PROVIDED, NOW) == effects.commands


def test_with_nothing_provided_anywhere_it_is_complete_at_once() -> None:
    effects = REQUEST_TYPES["portability"].accept(request("portability"), view(consent=CONSENT))
    check_records(effects)
    assert summary(effects)["status"] == "completed" and effects.commands == []
    assert [a["action"] for a in effects.audits] == ["request_received", "export_requested", "completion",
                                                    "export_ready"]
    assert effects.states[-1]["export"]["parts"] == 1
    assert len(lethe_part(effects)["consent_choices"]) == 2
