"""An erasure's receipt: every place the subject's data was and what happened there."""

from __future__ import annotations

import json
from dataclasses import replace

from rights_cases import CONTEXT, NOW, check_records, request, view

from processors.rights import REQUEST_TYPES, kind_of, on_ack
from processors.rights.receipt import RawTopic, receipt
from processors.time import iso, parse_time

DAY = 86_400.0
RAW = {"t.orders.v1": RawTopic(7 * DAY), "t.consent.v1": RawTopic(None, "proof of consent"),
       "t.logs.v1": RawTopic(30 * DAY, "fraud investigations")}


def erased(**changes: object) -> dict:
    context = replace(CONTEXT, raw_topics=RAW)
    effects = REQUEST_TYPES["erase"].accept(request("erase"), replace(view(context=context), **changes))
    check_records(effects)
    return effects.states[-1]


def test_the_receipt_names_every_location_with_a_date_for_each_raw_topic() -> None:
    found = receipt(erased(secret_held=True, secret_partitions=(2,)))
    assert found is not None
    assert found["secret"] == {"destroyed": True, "partitions": [2]}
    assert set(found["anonymized_outputs"]) == set(CONTEXT.output_names.values())
    assert "unreadable" in found["dlq"]
    assert found["raw_topics"]["t.orders.v1"] == {"retention": "7d", "last_record_expires_by": iso(NOW + 7 * DAY)}
    assert found["raw_topics"]["t.logs.v1"]["kept_because"] == "fraud investigations"
    assert found["raw_topics"]["t.consent.v1"]["last_record_expires_by"] is None
    assert found["stores"] == {s: {"status": "waiting", "acked_at": None} for s in CONTEXT.rights.stores}


def test_no_secret_held_is_said_so() -> None:
    assert receipt(erased())["secret"] == {"destroyed": False, "partitions": []}   # type: ignore[index]


def test_acks_fill_the_receipt_and_the_completion_audit_carries_it() -> None:
    state = erased()
    kind = kind_of("erase")
    audits = []
    for n, (command_id, store) in enumerate((c, s) for c in state["commands"] for s in state["stores"]):
        outcome = on_ack(state, kind, command_id, store, "applied" if store == "shop-db" else "not_found", "1",
                         NOW + 10 + n)
        assert outcome.state is not None
        state, audits = outcome.state, outcome.audits
    completion = [a for a in audits if a["action"] == "completion"]
    assert len(completion) == 1
    written = json.loads(completion[0]["details"]["receipt"])
    assert written == receipt(state)
    assert written["status"] == "completed"
    assert written["stores"]["shop-db"]["status"] == "deleted"
    assert written["stores"]["crm"]["status"] == "held no rows"
    assert parse_time(written["stores"]["crm"]["acked_at"]) > NOW


def test_another_request_has_no_receipt() -> None:
    effects = REQUEST_TYPES["restrict"].accept(request("restrict"), view())
    assert receipt(effects.states[-1]) is None
