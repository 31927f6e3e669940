"""Export parts sealed per request: only the request's key opens them; the key is destroyed once the
export is written, after its time, or when the subject is erased."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from rights_cases import CONTEXT, NOW, check_records, request, view

from processors.exportkeys import ExportUnreadable, new_key_pair, open_part, seal_part
from processors.records import export_part
from processors.rights import REQUEST_TYPES, kind_of, on_ack, on_key_expiry

PART = export_part("req-1", "cust-8841", "shop-db", "orders", NOW,
                   orjson.dumps([{"email": "ada@example.org"}]).decode())


def accepted(request_type: str = "access") -> Any:
    effects = REQUEST_TYPES[request_type].accept(request(request_type), view())
    check_records(effects)
    return effects


def test_a_part_opens_with_its_request_key_only() -> None:
    private, public = new_key_pair()
    sealed = seal_part(public, PART)
    assert b"ada@example.org" not in orjson.dumps(sealed)
    assert open_part(private, sealed) == PART
    with pytest.raises(ExportUnreadable, match="does not open"):
        open_part(new_key_pair()[0], sealed)
    with pytest.raises(ExportUnreadable, match="destroyed"):
        open_part(None, sealed)


@pytest.mark.parametrize("moved", [{"request_id": "req-2"}, {"source": "crm"}, {"family": "logs"}, {"chunk": 1}])
def test_a_part_moved_to_another_request_store_family_or_chunk_does_not_open(moved: dict[str, Any]) -> None:
    private, public = new_key_pair()
    with pytest.raises(ExportUnreadable):
        open_part(private, {**seal_part(public, PART), **moved})


def test_a_clear_part_is_refused() -> None:
    with pytest.raises(ExportUnreadable, match="not sealed"):
        open_part(new_key_pair()[0], PART)


@pytest.mark.parametrize("request_type", ["access", "portability"])
def test_commands_carry_the_public_key_and_the_state_keeps_the_private_one(request_type: str) -> None:
    effects = accepted(request_type)
    export = effects.states[-1]["export"]
    assert all(c["export_key"] == export["public_key"] for c in effects.commands)
    assert all(export["private_key"] not in orjson.dumps(c).decode() for c in effects.commands)
    (part,) = effects.exports
    assert open_part(export["private_key"], part)["source"] == "lethe"
    retried = kind_of(request_type).retry(effects.states[-1], CONTEXT, NOW + 120)
    assert [c["export_key"] for c in retried] == [c["export_key"] for c in effects.commands]


def test_the_written_ack_destroys_the_key_once() -> None:
    state = accepted().states[-1]
    outcome = on_ack(state, kind_of("access"), state["export"]["written_id"], "lethe-request-export", "applied", "5",
                     NOW + 60)
    assert outcome.state is not None and outcome.state["export"]["private_key"] is None
    assert outcome.state["export"]["key_destroyed_by"] == "written"
    assert [a["action"] for a in outcome.audits] == ["export_key_destroyed"]
    assert on_ack(outcome.state, kind_of("access"), state["export"]["written_id"], "lethe-request-export",
                  "applied", "5", NOW + 61).state is None


def test_the_key_expires_after_its_time_from_completion_only() -> None:
    state = accepted().states[-1]
    ttl = CONTEXT.rights.export_key_ttl_s
    assert on_key_expiry(state, ttl, NOW + ttl * 2) is None   # open: its parts are still coming in
    done = {**state, "status": "completed", "completed_at": "2026-11-21T10:00:00Z"}
    assert on_key_expiry(done, ttl, NOW + 3600) is None
    expired = on_key_expiry(done, ttl, NOW + 3600 + ttl + 1)
    assert expired is not None and expired[0]["export"]["key_destroyed_by"] == "expired"
    assert expired[0]["export"]["private_key"] is None


def test_an_erasure_destroys_the_keys_of_the_subjects_exports() -> None:
    export = accepted().states[-1]
    effects = REQUEST_TYPES["erase"].accept(request("erase", request_id="req-9"),
                                            replace(view(), requests=(export,)))
    check_records(effects)
    keyless, erasure = effects.states
    assert keyless["request_id"] == "req-1" and keyless["export"]["private_key"] is None
    assert keyless["export"]["key_destroyed_by"] == "erasure"
    assert erasure["receipt"]["exports"] == {"keys_destroyed": ["req-1"]}
    assert "export_key_destroyed" in [a["action"] for a in effects.audits]
