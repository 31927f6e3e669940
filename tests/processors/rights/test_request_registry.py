"""REQUEST_TYPES: one entry per request type of the schema; an unknown type fails, never silently."""

from __future__ import annotations

import json

from rights_cases import SCHEMAS, check_records, request, summary, view

from processors.rights import GATING, REQUEST_TYPES, accept, kind_of


def test_every_request_type_of_the_schema_is_registered_in_its_order() -> None:
    schema = json.loads((SCHEMAS / "privacy-requests.v1.avsc").read_text(encoding="utf-8"))
    (field,) = [f for f in schema["fields"] if f["name"] == "type"]
    assert list(REQUEST_TYPES) == field["type"]["symbols"]


def test_the_gating_types_and_their_reasons() -> None:
    assert GATING == {"restrict": "restrict", "object": "object", "minor_flag": "quarantine"}
    assert [n for n, k in REQUEST_TYPES.items() if k.erasure] == ["erase", "minor_flag"]
    assert [n for n, k in REQUEST_TYPES.items() if k.export] == ["access", "portability"]


def test_a_type_this_version_does_not_handle_fails() -> None:
    effects = accept(request("transfer"), view())
    check_records(effects)
    assert summary(effects)["status"] == "failed" and effects.failed
    assert effects.states[-1]["reason"] == "request type transfer is not handled by this version of Lethe"
    assert kind_of("transfer").retry(effects.states[-1], view().context, 0.0) == []
