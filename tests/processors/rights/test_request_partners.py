"""Erasure and rectification reach the partners the sharing ledger lists for the subject, and no other;
the request completes only on their acks and retries a partner that does not ack on its own topic."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from rights_cases import CONTEXT, NOW, check_records, hold, request, view

from processors.records import sharing_entry
from processors.rights import REQUEST_TYPES, on_ack, on_tick
from processors.rights import erase as erase_type
from processors.sharing import Recipient
from processors.time import parse_time

PARTNERS = {
    "parcelco": Recipient("parcelco", "partners.parcelco.v1", "contract", "EU", "adequacy", "order_fulfilment"),
    "paynow": Recipient("paynow", "partners.paynow.v1", "contract", "US", "scc", "payment", store="psp-db"),
    "adco": Recipient("adco", "partners.adco.v1", "consent", "EU", "adequacy", "marketing"),
}
WITH_PARTNERS = replace(CONTEXT, partners=PARTNERS)


def shared(*partners: str) -> tuple[dict[str, Any], ...]:
    return tuple(sharing_entry("cust-8841", p, category, basis="contract", region="EU", first_shared_at=NOW - 60,
                               last_shared_at=NOW - 30, count=1)
                 for p in partners for category in ("identity.name", "contact.address"))


RECTIFY = {"contact.email": "new@example.com"}


@pytest.mark.parametrize("kind", ["erase", "rectify", "minor_flag"])
@pytest.mark.parametrize(("received", "stores", "partners"), [
    ((), ["shop-db", "crm"], {}),
    (("parcelco",), ["shop-db", "crm", "partner.parcelco"], {"partner.parcelco": "parcelco"}),
    (("paynow", "parcelco"), ["shop-db", "crm", "partner.parcelco", "psp-db"],
     {"partner.parcelco": "parcelco", "psp-db": "paynow"}),
])
def test_the_partners_that_received_the_subject_and_no_other(kind: str, received: tuple[str, ...],
                                                             stores: list[str], partners: dict[str, str]) -> None:
    effects = REQUEST_TYPES[kind].accept(request(kind, RECTIFY if kind == "rectify" else None),
                                         view(context=WITH_PARTNERS, shared=shared(*received)))
    check_records(effects)
    state = effects.states[-1]
    assert state["stores"] == stores and state["partners"] == partners
    # each command once more on the topic of every partner that received the subject; adco never did
    assert sorted((p, c["command_id"]) for p, c in effects.partner_commands) == sorted(
        (p, c["command_id"]) for p in partners.values() for c in effects.commands)
    audited = {a["details"]["partners"] for a in effects.audits if a["action"] == "command"}
    assert audited == {",".join(sorted(partners.values()))}


def test_an_erasure_completes_only_when_every_partner_has_acked() -> None:
    kind = REQUEST_TYPES["erase"]
    effects = kind.accept(request("erase"), view(context=WITH_PARTNERS, shared=shared("parcelco")))
    state = effects.states[-1]
    for command in effects.commands:
        for store in ("shop-db", "crm"):
            outcome = on_ack(state, kind, command["command_id"], store, "applied", "1", NOW + 1)
            assert outcome.state is not None
            state = outcome.state
    assert state["status"] == "in_progress"   # the partner has not acked yet
    first, last = effects.commands
    state = on_ack(state, kind, first["command_id"], "partner.parcelco", "not_found", "0", NOW + 2).state or state
    assert state["status"] == "in_progress"
    outcome = on_ack(state, kind, last["command_id"], "partner.parcelco", "applied", "2", NOW + 3)
    assert outcome.state is not None and outcome.state["status"] == "completed"
    assert outcome.erasure_seconds is not None


def test_a_partner_that_does_not_ack_gets_the_command_again_on_its_topic_only() -> None:
    kind = REQUEST_TYPES["erase"]
    effects = kind.accept(request("erase"), view(context=WITH_PARTNERS, shared=shared("parcelco", "paynow")))
    state = effects.states[-1]
    for command in effects.commands:   # the policy's stores and paynow ack; parcelco does not
        for store in ("shop-db", "crm", "psp-db"):
            state = on_ack(state, kind, command["command_id"], store, "applied", "1", NOW + 1).state or state
    timeout = WITH_PARTNERS.rights.ack_timeout_s
    assert on_tick(state, kind, WITH_PARTNERS, NOW + timeout / 2).commands == []   # not yet
    outcome = on_tick(state, kind, WITH_PARTNERS, NOW + timeout + 1)
    assert outcome.commands == []   # nothing for the shared commands topic: every store there acked
    assert sorted((p, c["command_id"]) for p, c in outcome.partner_commands) == sorted(
        ("parcelco", c["command_id"]) for c in effects.commands)
    assert outcome.waiting_for == ["partner.parcelco"]
    assert [a["action"] for a in outcome.audits] == ["retry"]
    assert outcome.audits[0]["details"]["waiting_for"] == "partner.parcelco"


def test_an_erasure_a_hold_suspended_reaches_the_partners_the_ledger_lists_when_it_resumes() -> None:
    suspended = erase_type.accept(request("erase"), view(context=WITH_PARTNERS, shared=shared("parcelco"),
                                                         holds=(hold("h-1"),)))
    assert suspended.partner_commands == [] and suspended.states[-1]["stores"] == ["shop-db", "crm"]
    # shared with paynow too while the hold stood
    resumed = erase_type.resume(suspended.states[-1], view(context=WITH_PARTNERS, shared=shared("parcelco", "paynow")))
    assert resumed is not None
    assert resumed.states[-1]["partners"] == {"partner.parcelco": "parcelco", "psp-db": "paynow"}
    assert {p for p, _ in resumed.partner_commands} == {"parcelco", "paynow"}


def test_an_erasure_waiting_for_a_partner_turns_overdue() -> None:
    kind = REQUEST_TYPES["erase"]
    effects = kind.accept(request("erase"), view(context=WITH_PARTNERS, shared=shared("webstats")))
    state = effects.states[-1]
    for command in effects.commands:
        for store in ("shop-db", "crm"):
            state = on_ack(state, kind, command["command_id"], store, "applied", "1", NOW + 1).state or state
    outcome = on_tick(state, kind, WITH_PARTNERS, parse_time(state["due_at"]) + 1)
    assert outcome.state is not None and outcome.state["status"] == "overdue"
    assert [a["action"] for a in outcome.audits] == ["overdue", "retry"]
    assert {p for p, _ in outcome.partner_commands} == {"webstats"} and outcome.commands == []
