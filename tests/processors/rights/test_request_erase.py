"""erase: delete commands to every family, the secret shredded, refusals kept; a hold suspends it."""

from __future__ import annotations

from typing import Any

import pytest
from rights_cases import CONSENT, CONTEXT, NOW, REFUSED, check_records, hold, request, summary, view

from processors.rights import REQUEST_TYPES, RightsContext, new_state
from processors.rights import erase as erase_type

KEPT = {"current": {"analytics": REFUSED}, "history": [], "erased": True}
DELETES = [("delete", "orders"), ("delete", "logs")]


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, {"status": "in_progress", "audits": ["request_received", "command", "command", "shred"],
          "commands": DELETES, "exports": 0, "shred": True, "consent": None, "failed": False}),
    ({"consent": CONSENT, "secret_held": True},
     {"status": "in_progress", "audits": ["request_received", "command", "command", "shred"],
      "commands": DELETES, "exports": 0, "shred": True, "consent": KEPT, "failed": False}),
    ({"context": RightsContext(CONTEXT.rights)},   # a worker without consent state: nothing to erase there
     {"status": "in_progress", "audits": ["request_received", "command", "command", "shred"],
      "commands": DELETES, "exports": 0, "shred": True, "consent": None, "failed": False}),
    ({"holds": (hold("h-2"), hold("h-1", "o-9"))},
     {"status": "in_progress", "audits": ["request_received", "suspended"], "commands": [], "exports": 0,
      "shred": False, "consent": None, "failed": False}),
])
def test_erase(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    effects = REQUEST_TYPES["erase"].accept(request("erase"), view(**changes))
    check_records(effects)
    assert summary(effects) == expected
    if effects.consent is not None and changes.get("consent") is not None:
        assert changes["consent"] == CONSENT   # the view is not changed


@pytest.mark.parametrize(("secret_held", "detail"), [(True, "destroyed"), (False, "none held by this worker")])
def test_the_shred_audit_says_whether_a_secret_was_held(secret_held: bool, detail: str) -> None:
    effects = erase_type.accept(request("erase"), view(secret_held=secret_held))
    assert effects.audits[-1]["details"]["secret"] == detail


def test_a_suspended_erasure_names_its_holds_and_waits_for_none() -> None:
    effects = erase_type.accept(request("erase"), view(holds=(hold("h-2"), hold("h-1"))))
    state = effects.states[-1]
    assert state["suspended_by"] == ["h-1", "h-2"] and state["commands"] == {}
    assert effects.audits[-1]["details"]["hold_ids"] == "h-1,h-2"


def test_the_commands_are_tracked_for_every_store() -> None:
    effects = erase_type.accept(request("erase"), view())
    state = effects.states[-1]
    assert state["commands"] == {c["command_id"]: c["selector"]["family"] for c in effects.commands}
    assert state["stores"] == ["shop-db", "crm"] and state["sent_at"] is not None
    assert [a["details"]["stores"] for a in effects.audits if a["action"] == "command"] == ["shop-db,crm"] * 2


@pytest.mark.parametrize(("suspended_by", "holds", "resumes"), [
    (["h-1"], (), True),
    (["h-1"], (hold("h-3"),), False),   # another hold is still in force
    (None, (), False),                  # nothing was suspended
])
def test_resume(suspended_by: list[str] | None, holds: tuple[Any, ...], resumes: bool) -> None:
    state = new_state(request("erase"), CONTEXT.rights, NOW - 60)
    state["status"], state["suspended_by"] = "in_progress", suspended_by
    effects = erase_type.resume(state, view(holds=holds))
    if not resumes:
        assert effects is None
        return
    assert effects is not None
    check_records(effects)
    assert [a["action"] for a in effects.audits] == ["resumed", "command", "command", "shred"]
    assert effects.states[-1]["suspended_by"] is None and effects.shred
    assert state["suspended_by"] == ["h-1"]   # the stored state is not changed in place
    # the same commands as an erasure accepted without a hold
    assert effects.commands == erase_type.accept(request("erase"), view()).commands


def test_a_retry_rebuilds_the_same_commands() -> None:
    effects = erase_type.accept(request("erase"), view())
    assert erase_type.retry(effects.states[-1], CONTEXT, NOW) == effects.commands
