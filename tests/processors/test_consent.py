"""Consent: the [consent] policy section, consent events, each subject's state, and the output gates."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.consent import (
    HISTORY,
    PURPOSES,
    SOURCES,
    ConsentEvent,
    ConsentPolicy,
    after_erasure,
    apply_consent,
    consent_audit,
    decide,
    gates_for,
    parse_consent_policy,
    refusal,
)
from processors.errors import InvalidRecord, PolicyError
from processors.inputs import Inputs
from processors.policy import CATEGORIES, Policy, load_policy, parse_policy
from processors.schemas import SchemaCatalog, default_schema_dir

Example = Callable[[str], dict[str, Any]]   # the `example` fixture of conftest.py

ORDERS_OUT = "orders.anonymized.v1"
LOGS_OUT = "logs.anonymized.v1"

decode_consent = Inputs(SchemaCatalog.load(default_schema_dir())).consent


# --- the [consent] section -------------------------------------------------------------------------

def test_an_empty_section_gives_the_defaults() -> None:
    policy = parse_consent_policy({}, CATEGORIES, "p.toml")
    assert policy == ConsentPolicy()
    assert policy.material_versions == ()
    assert policy.opt_in == ("marketing", "personalization", "third_party_sharing", "location", "cookies_advertising")
    assert policy.opt_out == ("analytics", "cookies_analytics")
    assert policy.collected == {}
    assert set(policy.opt_in) | set(policy.opt_out) == set(PURPOSES)


def test_a_full_section_is_read() -> None:
    raw = {"material_versions": ["2026-01-01", "2026-11-01"], "opt_in": ["marketing", "analytics"],
           "opt_out": ["cookies_analytics"], "collected": {"location": ["location.precise", "location.approximate"]}}
    policy = parse_consent_policy(raw, CATEGORIES, "p.toml")
    assert policy == ConsentPolicy(("2026-01-01", "2026-11-01"), ("marketing", "analytics"), ("cookies_analytics",),
                                   {"location": ("location.precise", "location.approximate")})


def test_empty_opt_lists_are_allowed() -> None:
    policy = parse_consent_policy({"opt_in": [], "opt_out": []}, CATEGORIES, "p.toml")
    assert (policy.opt_in, policy.opt_out) == ((), ())


@pytest.mark.parametrize(("raw", "message"), [
    ("consent", "[consent] must be a table"),
    (["analytics"], "[consent] must be a table"),
    ({"colour": "red"}, "[consent]: unknown key(s) colour"),
    ({"opt_in": [], "purposes": [], "colour": "red"}, "[consent]: unknown key(s) colour, purposes"),
    ({"material_versions": "2026-11-01"}, "consent.material_versions must list policy versions"),
    ({"material_versions": [20261101]}, "consent.material_versions must list policy versions"),
    ({"material_versions": [""]}, "consent.material_versions must list policy versions"),
    ({"material_versions": ["2026-11-01", None]}, "consent.material_versions must list policy versions"),
    ({"material_versions": {"v": "2026-11-01"}}, "consent.material_versions must list policy versions"),
    ({"opt_in": ["nope"], "opt_out": []}, "consent.opt_in must list consent purposes"),
    ({"opt_in": "marketing"}, "consent.opt_in must list consent purposes"),
    ({"opt_in": ["Marketing"]}, "consent.opt_in must list consent purposes"),
    ({"opt_out": ["nope"]}, "consent.opt_out must list consent purposes"),
    ({"opt_out": "analytics"}, "consent.opt_out must list consent purposes"),
    ({"opt_in": ["analytics", "marketing"]}, "consent.opt_in and opt_out both list analytics"),
    ({"opt_in": ["analytics", "cookies_analytics"], "opt_out": ["cookies_analytics", "analytics"]},
     "consent.opt_in and opt_out both list analytics, cookies_analytics"),
    ({"opt_out": ["analytics", "marketing"]}, "consent.opt_in and opt_out both list marketing"),
    ({"collected": ["location.precise"]}, "consent.collected must be a table of purpose = [categories]"),
    ({"collected": {"nope": ["location.precise"]}}, 'consent.collected."nope": unknown consent purpose'),
    ({"collected": {"location": ["contact.fax"]}}, 'consent.collected."location" must list data categories'),
    ({"collected": {"location": ["location.precise", "contact.fax"]}},
     'consent.collected."location" must list data categories'),
    ({"collected": {"location": []}}, 'consent.collected."location" must list data categories'),
    ({"collected": {"location": "location.precise"}}, 'consent.collected."location" must list data categories'),
])
def test_bad_sections_are_named(raw: Any, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_consent_policy(raw, CATEGORIES, "p.toml")
    assert str(error.value).startswith("policy p.toml: ")
    assert message in str(error.value)


def test_collected_categories_are_checked_against_the_given_categories() -> None:
    raw = {"collected": {"location": ["location.precise"]}}
    assert parse_consent_policy(raw, CATEGORIES, "p.toml").collected == {"location": ("location.precise",)}
    with pytest.raises(PolicyError) as error:
        parse_consent_policy(raw, ("contact.email",), "p.toml")
    assert 'consent.collected."location" must list data categories' in str(error.value)


MATERIAL = ConsentPolicy(material_versions=("2026-01-01", "2027-03-01", "2026-11-01"))


@pytest.mark.parametrize(("policy", "current", "stale"), [
    (MATERIAL, "2026-11-01", "2026-11-01"),   # the current version itself is material
    (MATERIAL, "2026-12-15", "2026-11-01"),   # the latest material version not after the current one
    (MATERIAL, "2026-10-31", "2026-01-01"),
    (MATERIAL, "2027-03-01", "2027-03-01"),
    (MATERIAL, "2030-01-01", "2027-03-01"),
    (MATERIAL, "2025-12-31", None),            # every material version is still in the future
    (ConsentPolicy(), "2026-11-01", None),     # no material versions
])
def test_stale_before(policy: ConsentPolicy, current: str, stale: str | None) -> None:
    assert policy.stale_before(current) == stale


# --- consent events ----------------------------------------------------------------------------------

EXAMPLE_EVENT = ConsentEvent("c1a7e3f2-6d4b-4f0a-9e21-7b8c5d3e4f03", "2026-11-20T13:58:41Z", "cust-8841",
                             "cookies_analytics", True, "2026-09-01", "cookie_banner")


def test_the_example_consent_event_parses(example: Example) -> None:
    assert decode_consent(orjson.dumps(example("consent.v1"))) == EXAMPLE_EVENT


def event_json(**changes: Any) -> dict[str, Any]:
    return {"event_id": "ev-1", "occurred_at": "2026-11-20T13:58:41Z", "customer_id": "cust-8841",
            "purpose": "marketing", "granted": False, "policy_version": "2026-11-01", "source": "api", **changes}


def drop(event: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != name}


BASE_EVENT = ConsentEvent("ev-1", "2026-11-20T13:58:41Z", "cust-8841", "marketing", False, "2026-11-01", "api")


@pytest.mark.parametrize("changes", [
    {},
    {"granted": True},
    {"occurred_at": "2026-11-20T15:58:41+02:00"},
    {"occurred_at": "2026-11-20T13:58:41.123456-05:30"},
    {"occurred_at": "2026-11-20t13:58:41Z"},
    {"occurred_at": "2026-11-20 13:58:41Z"},
    *({"purpose": purpose} for purpose in PURPOSES),
    *({"source": source} for source in SOURCES),
    {"extra": "ignored"},
])
def test_consent_events_parse(changes: dict[str, Any]) -> None:
    expected = replace(BASE_EVENT, **{("subject" if k == "customer_id" else k): v for k, v in changes.items()
                                      if k != "extra"})
    assert decode_consent(orjson.dumps(event_json(**changes))) == expected


SECRET = "cust-SECRET-77"
TIMESTAMP = "format.timestamp"   # the rule of a time that is not RFC 3339 with an offset, years 1970-2999
VALUES = (SECRET, "7700777", "2026-02-30", "cust-8841", "ev-1", "2026-11-20T13", "2026-11-01", "PLACE")


@pytest.mark.parametrize(("raw", "rule", "path"), [
    (b"{not json " + SECRET.encode(), "json", ""),
    (b"", "json", ""),
    (None, "empty", ""),
    (b'{"event_id": "\xff\xfe' + SECRET.encode() + b'"}', "utf8", ""),
    (orjson.dumps([event_json(customer_id=SECRET)]), "type", ""),
    (orjson.dumps(SECRET), "type", ""),
    (b"null", "type", ""),
    (b"7700777", "type", ""),
    (orjson.dumps(drop(event_json(customer_id=SECRET), "event_id")), "required", "event_id"),
    (orjson.dumps(event_json(event_id="", customer_id=SECRET)), "min_length", "event_id"),
    (orjson.dumps(event_json(event_id=7_700_777)), "type", "event_id"),
    (orjson.dumps(event_json(event_id=[SECRET])), "type", "event_id"),
    (orjson.dumps(drop(event_json(), "customer_id")), "required", "customer_id"),
    (orjson.dumps(event_json(customer_id="")), "min_length", "customer_id"),
    (orjson.dumps(event_json(customer_id={"id": SECRET})), "type", "customer_id"),
    (orjson.dumps(event_json(customer_id=7_700_777)), "type", "customer_id"),
    (orjson.dumps(drop(event_json(customer_id=SECRET), "occurred_at")), "required", "occurred_at"),
    (orjson.dumps(event_json(occurred_at=None, customer_id=SECRET)), "type", "occurred_at"),
    (orjson.dumps(event_json(occurred_at=7_700_777)), "type", "occurred_at"),
    (orjson.dumps(drop(event_json(customer_id=SECRET), "policy_version")), "required", "policy_version"),
    (orjson.dumps(event_json(policy_version="", customer_id=SECRET)), "min_length", "policy_version"),
    (orjson.dumps(event_json(policy_version=20261101, customer_id=SECRET)), "type", "policy_version"),
    (orjson.dumps(event_json(purpose=SECRET)), "enum", "purpose"),
    (orjson.dumps(drop(event_json(customer_id=SECRET), "purpose")), "required", "purpose"),
    (orjson.dumps(event_json(purpose="Marketing", customer_id=SECRET)), "enum", "purpose"),
    (orjson.dumps(event_json(purpose=[SECRET])), "type", "purpose"),
    (orjson.dumps(event_json(source=SECRET)), "enum", "source"),
    (orjson.dumps(drop(event_json(customer_id=SECRET), "source")), "required", "source"),
    (orjson.dumps(event_json(source="PLACE", customer_id=SECRET)), "enum", "source"),
    (orjson.dumps(drop(event_json(customer_id=SECRET), "granted")), "required", "granted"),
    (orjson.dumps(event_json(granted="true", customer_id=SECRET)), "type", "granted"),
    (orjson.dumps(event_json(granted=1, customer_id=SECRET)), "type", "granted"),
    (orjson.dumps(event_json(granted=None, customer_id=SECRET)), "type", "granted"),
    (orjson.dumps(event_json(occurred_at=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(event_json(occurred_at="2026-11-20T13:58:41", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(event_json(occurred_at="2026-11-20", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(event_json(occurred_at="2026-11-20T13:58:41+0200", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(event_json(occurred_at="2026-11-20T13:58:41Z\n", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(event_json(occurred_at="2026-02-30T00:00:00Z", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
    (orjson.dumps(event_json(occurred_at="2026-11-20T25:00:00Z", customer_id=SECRET)), TIMESTAMP, "occurred_at"),
])
def test_bad_consent_events_are_named_without_their_values(raw: bytes | None, rule: str, path: str) -> None:
    with pytest.raises(InvalidRecord) as error:
        decode_consent(raw)
    assert (error.value.rule, error.value.path) == (rule, path)
    for text in (str(error.value), error.value.reason, error.value.path):
        for value in VALUES:
            assert value not in text


def test_a_lower_case_z_is_rfc_3339() -> None:
    event = decode_consent(orjson.dumps(event_json(occurred_at="2026-11-20T13:58:41z")))
    assert event.occurred_at == "2026-11-20T13:58:41z"


# --- the consent state ---------------------------------------------------------------------------------

def decision(event_id: str, occurred_at: str, purpose: str = "marketing", granted: bool = True,
             version: str = "2026-11-01") -> ConsentEvent:
    return ConsentEvent(event_id, occurred_at, "cust-8841", purpose, granted, version, "account_settings")


def entry(event: ConsentEvent) -> dict[str, Any]:
    return {"event_id": event.event_id, "purpose": event.purpose, "granted": event.granted,
            "policy_version": event.policy_version, "source": event.source, "occurred_at": event.occurred_at}


def state_of(*events: ConsentEvent) -> dict[str, Any] | None:
    state: dict[str, Any] | None = None
    for event in events:
        state, _ = apply_consent(state, event)
    return state


EARLY = decision("ev-early", "2026-11-20T10:00:00Z", granted=True)
LATE = decision("ev-late", "2026-11-20T11:00:00Z", granted=False)


@pytest.mark.parametrize("state", [None, {"current": {}, "history": []}])
def test_the_first_decision_is_current(state: dict[str, Any] | None) -> None:
    new, current = apply_consent(state, EARLY)
    assert current is True
    assert new == {"current": {"marketing": entry(EARLY)}, "history": [entry(EARLY)]}
    assert orjson.loads(orjson.dumps(new)) == new   # the state is stored as JSON


@pytest.mark.parametrize("events", [(EARLY, LATE), (LATE, EARLY)])
def test_the_latest_decision_wins_whatever_the_arrival_order(events: tuple[ConsentEvent, ConsentEvent]) -> None:
    state = state_of(*events)
    assert state is not None
    assert state["current"] == {"marketing": entry(LATE)}
    assert [h["event_id"] for h in state["history"]] == [e.event_id for e in events]


def test_times_compare_as_instants_not_as_strings() -> None:
    # 12:30+02:00 is 10:30Z: earlier than 11:00Z although it sorts after it as a string
    offset = decision("ev-offset", "2026-11-20T12:30:00+02:00", granted=True)
    for events in ((LATE, offset), (offset, LATE)):
        state = state_of(*events)
        assert state is not None and state["current"]["marketing"] == entry(LATE)


def test_a_later_decision_replaces_the_current_one() -> None:
    state, _ = apply_consent(None, EARLY)
    state, current = apply_consent(state, LATE)
    assert current is True
    assert state["current"] == {"marketing": entry(LATE)}


def test_an_older_decision_goes_to_the_history_only() -> None:
    state, _ = apply_consent(None, LATE)
    state, current = apply_consent(state, EARLY)
    assert current is False
    assert state["current"] == {"marketing": entry(LATE)}
    assert state["history"] == [entry(LATE), entry(EARLY)]


def test_decisions_on_other_purposes_are_kept_apart() -> None:
    other = decision("ev-other", "2026-11-20T09:00:00Z", purpose="analytics", granted=False)
    state, _ = apply_consent(None, LATE)
    state, current = apply_consent(state, other)
    assert current is True   # older than LATE, but the first decision on its own purpose
    assert state["current"] == {"marketing": entry(LATE), "analytics": entry(other)}


@pytest.mark.parametrize("replay", [
    EARLY, LATE, replace(LATE, granted=True), replace(LATE, occurred_at="2026-11-21T00:00:00Z"),
    replace(EARLY, occurred_at="2026-11-22T00:00:00Z", purpose="analytics"),
])
def test_a_replayed_event_changes_nothing(replay: ConsentEvent) -> None:
    state = state_of(EARLY, LATE)
    before = copy.deepcopy(state)
    after, current = apply_consent(state, replay)
    assert current is False
    assert after == before


def test_the_history_is_capped() -> None:
    events = [decision(f"ev-{i}", f"2026-11-20T10:{i:02d}:00Z", granted=i % 2 == 0) for i in range(HISTORY + 5)]
    state = state_of(*events)
    assert state is not None
    assert len(state["history"]) == HISTORY
    assert [h["event_id"] for h in state["history"]] == [e.event_id for e in events[-HISTORY:]]
    assert state["current"] == {"marketing": entry(events[-1])}


def test_a_full_history_still_takes_a_new_decision() -> None:
    events = [decision(f"ev-{i}", f"2026-11-20T10:{i:02d}:00Z") for i in range(HISTORY)]
    state, current = apply_consent(state_of(*events), LATE)
    assert current is True and len(state["history"]) == HISTORY
    assert state["history"][-1] == entry(LATE) and state["history"][0]["event_id"] == "ev-1"


def test_a_replay_of_an_event_no_longer_in_the_history_changes_nothing() -> None:
    first = decision("ev-analytics", "2026-11-20T09:00:00Z", purpose="analytics", granted=False)
    others = [decision(f"ev-{i}", f"2026-11-20T10:{i:02d}:00Z") for i in range(HISTORY)]
    state = state_of(first, *others)
    before = copy.deepcopy(state)
    after, current = apply_consent(state, first)
    assert (current, after) == (False, before)


# --- refusal and gates ---------------------------------------------------------------------------------

# --- the decision and the erasure rule, as plain functions --------------------------------------------

@pytest.mark.parametrize(("before", "event", "current"), [
    ((), EARLY, True),
    ((EARLY,), LATE, True),
    ((LATE,), EARLY, False),    # an older decision: history only
    ((EARLY,), EARLY, False),   # a replay
])
def test_decide_leaves_the_given_state_as_it_was(before: tuple[ConsentEvent, ...], event: ConsentEvent,
                                                 current: bool) -> None:
    state = state_of(*before)
    kept = copy.deepcopy(state)
    result = decide(state, event)
    assert state == kept
    expected_state, expected_current = apply_consent(copy.deepcopy(state), event)
    assert (result.state, result.current) == (expected_state, expected_current) and result.current == current


@pytest.mark.parametrize(("events", "kept"), [
    ((), None),
    ((EARLY,), None),                                                        # a grant is forgotten
    ((EARLY, LATE), {"marketing": LATE}),                                   # the current refusal is kept
    ((LATE, decision("ev-later", "2026-11-20T12:00:00Z")), None),           # a refusal replaced by a grant
    ((decision("a", "2026-11-20T10:00:00Z", "analytics", False), EARLY,
      decision("l", "2026-11-20T10:00:00Z", "location", False)),
     {"analytics": decision("a", "2026-11-20T10:00:00Z", "analytics", False),
      "location": decision("l", "2026-11-20T10:00:00Z", "location", False)}),
])
def test_an_erasure_keeps_the_current_refusals_only(events: tuple[ConsentEvent, ...],
                                                    kept: dict[str, ConsentEvent] | None) -> None:
    state = state_of(*events)
    expected = None if kept is None else {"current": {p: entry(e) for p, e in kept.items()}, "history": [],
                                          "erased": True}
    assert after_erasure(state) == expected
    if expected is not None:
        assert after_erasure(expected) == expected   # erasing again keeps the same refusals


def test_the_consent_audit_of_a_withdrawal_names_its_request() -> None:
    audit = consent_audit(LATE, 0.0, True, cause="req-1")
    assert (audit["action"], audit["rule"], audit["request_id"]) == ("consent", "consent.marketing", "req-1")
    assert audit["details"]["current"] == "true" and audit["details"]["granted"] == "false"
    assert consent_audit(LATE, 0.0, False)["details"]["current"] == "false (an older decision)"


POLICY = ConsentPolicy(material_versions=("2026-11-01",))
VERSION = "2026-11-01"
OLD = "2026-09-01"


def grant(purpose: str, version: str = VERSION, at: str = "2026-11-20T10:00:00Z") -> ConsentEvent:
    return decision(f"grant-{purpose}-{version}-{at}", at, purpose, True, version)


def refuse(purpose: str, version: str = VERSION, at: str = "2026-11-20T11:00:00Z") -> ConsentEvent:
    return decision(f"refuse-{purpose}-{version}-{at}", at, purpose, False, version)


@pytest.mark.parametrize(("events", "purpose", "reason"), [
    # opt-out: allowed until refused; a refusal refuses under any policy version
    ((), "analytics", None),
    ((grant("analytics"),), "analytics", None),
    ((grant("analytics", OLD),), "analytics", None),
    ((refuse("analytics"),), "analytics", "consent_refused"),
    ((refuse("analytics", OLD),), "analytics", "consent_refused"),
    ((grant("analytics"), refuse("analytics")), "analytics", "consent_refused"),
    ((refuse("analytics"), grant("analytics", at="2026-11-21T10:00:00Z")), "analytics", None),
    ((refuse("cookies_analytics"),), "cookies_analytics", "consent_refused"),
    ((refuse("cookies_analytics"),), "analytics", None),
    # opt-in: needs a current grant under the latest material version
    ((), "marketing", "consent_missing"),
    ((refuse("marketing"),), "marketing", "consent_missing"),
    ((grant("marketing"), refuse("marketing")), "marketing", "consent_missing"),
    ((grant("marketing", OLD),), "marketing", "consent_stale"),
    ((grant("marketing", "2026-10-31"),), "marketing", "consent_stale"),
    ((grant("marketing"),), "marketing", None),
    ((grant("marketing", "2026-12-01"),), "marketing", None),
    ((grant("marketing", OLD), grant("marketing", at="2026-11-21T10:00:00Z")), "marketing", None),
    ((grant("marketing", at="2026-11-21T10:00:00Z"), grant("marketing", OLD)), "marketing", None),
    ((grant("marketing"), grant("marketing", OLD, at="2026-11-21T10:00:00Z")), "marketing", "consent_stale"),
    ((grant("marketing"),), "personalization", "consent_missing"),
    ((grant("location"),), "location", None),
    ((grant("cookies_advertising", OLD),), "cookies_advertising", "consent_stale"),
])
def test_refusal(events: tuple[ConsentEvent, ...], purpose: str, reason: str | None) -> None:
    assert refusal(state_of(*events), purpose, POLICY, VERSION) == reason


@pytest.mark.parametrize(("policy", "version", "reason"), [
    (ConsentPolicy(), VERSION, None),                                  # nothing material: never stale
    (POLICY, "2026-10-01", None),                                      # the material version is not in force yet
    (ConsentPolicy(material_versions=("2026-01-01",)), VERSION, None),
    (ConsentPolicy(material_versions=("2026-01-01", "2026-10-01")), VERSION, "consent_stale"),
])
def test_staleness_follows_the_policy_version(policy: ConsentPolicy, version: str, reason: str | None) -> None:
    assert refusal(state_of(grant("marketing", OLD)), "marketing", policy, version) == reason


def test_a_purpose_moved_to_opt_out_is_no_longer_needed() -> None:
    policy = ConsentPolicy(opt_in=("personalization",), opt_out=("marketing", "analytics"))
    assert refusal(None, "marketing", policy, VERSION) is None
    assert refusal(None, "marketing", ConsentPolicy(), VERSION) == "consent_missing"
    assert refusal(state_of(refuse("marketing")), "marketing", policy, VERSION) == "consent_refused"


OUTPUTS: dict[str, Sequence[str]] = {
    ORDERS_OUT: ("analytics",),
    LOGS_OUT: ("analytics", "cookies_analytics"),
    "ads.v1": ("marketing", "cookies_advertising"),
    "plain.v1": (),
}


@pytest.mark.parametrize(("events", "gates"), [
    ((), {"ads.v1": "consent_missing.marketing"}),
    ((refuse("cookies_analytics"),),
     {LOGS_OUT: "consent_refused.cookies_analytics", "ads.v1": "consent_missing.marketing"}),
    ((refuse("analytics"),), {ORDERS_OUT: "consent_refused.analytics", LOGS_OUT: "consent_refused.analytics",
                              "ads.v1": "consent_missing.marketing"}),
    ((refuse("analytics"), refuse("cookies_analytics")),
     {ORDERS_OUT: "consent_refused.analytics", LOGS_OUT: "consent_refused.analytics",
      "ads.v1": "consent_missing.marketing"}),
    ((grant("marketing", OLD), grant("cookies_advertising")), {"ads.v1": "consent_stale.marketing"}),
    ((grant("marketing"),), {"ads.v1": "consent_missing.cookies_advertising"}),
    ((grant("marketing"), grant("cookies_advertising", OLD)), {"ads.v1": "consent_stale.cookies_advertising"}),
    ((grant("marketing"), grant("cookies_advertising")), {}),
    ((grant("marketing"), grant("cookies_advertising"), refuse("cookies_analytics")),
     {LOGS_OUT: "consent_refused.cookies_analytics"}),
])
def test_gates_for(events: tuple[ConsentEvent, ...], gates: dict[str, str]) -> None:
    assert gates_for(state_of(*events), OUTPUTS, POLICY, VERSION) == gates


def test_outputs_without_purposes_are_never_gated() -> None:
    refusing = state_of(*(refuse(p) for p in PURPOSES))
    gated = gates_for(refusing, OUTPUTS, POLICY, VERSION)
    assert set(gated) == {ORDERS_OUT, LOGS_OUT, "ads.v1"}
    assert gates_for(refusing, {"plain.v1": (), "plain2.v1": []}, POLICY, VERSION) == {}
    assert gates_for(None, {}, POLICY, VERSION) == {}


# --- the default policy and per-output consent -------------------------------------------------------

def test_the_default_policy_has_consent(default_policy: Policy) -> None:
    consent = default_policy.consent
    assert default_policy.outputs[ORDERS_OUT].consent == ("analytics",)
    assert default_policy.outputs[LOGS_OUT].consent == ("analytics", "cookies_analytics")
    assert not set(consent.opt_in) & set(consent.opt_out)
    assert set(consent.opt_in) | set(consent.opt_out) == set(PURPOSES)
    assert consent.stale_before(default_policy.version) == default_policy.version
    assert consent.collected["location"] == ("location.precise",)
    assert all(set(cats) <= set(CATEGORIES) for cats in consent.collected.values())


def test_the_default_policy_holds_back_only_refusing_subjects(default_policy: Policy) -> None:
    outputs = {o.topic: o.consent for o in default_policy.outputs.values()}
    consent, version = default_policy.consent, default_policy.version
    assert gates_for(None, outputs, consent, version) == {}
    assert gates_for(state_of(refuse("cookies_analytics")), outputs, consent, version) == {
        LOGS_OUT: "consent_refused.cookies_analytics"}


@pytest.mark.parametrize(("old", "new", "message"), [
    ('consent = ["analytics"] ', 'consent = ["nope"] ', f'outputs."{ORDERS_OUT}".consent must list consent purposes'),
    ('consent = ["analytics"] ', 'consent = "analytics" ', f'outputs."{ORDERS_OUT}".consent must list'),
    ('consent = ["analytics", "cookies_analytics"]', 'consent = ["analytics", "Cookies"]',
     f'outputs."{LOGS_OUT}".consent must list consent purposes'),
    ('opt_in = ["marketing",', 'opt_in = ["nope", "marketing",', "consent.opt_in must list consent purposes"),
    ('location = ["location.precise"]', 'nope = ["location.precise"]', 'consent.collected."nope"'),
])
def test_bad_consent_in_a_policy_file_fails_to_load(default_policy_path: Path, tmp_path: Path, old: str, new: str,
                                                    message: str) -> None:
    text = default_policy_path.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(error.value).startswith(f"policy {path}: ")
    assert message in str(error.value)


def test_an_output_without_consent_has_none(default_policy_path: Path) -> None:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    del data["outputs"][ORDERS_OUT]["consent"]
    policy = parse_policy(data)
    assert policy.outputs[ORDERS_OUT].consent == ()
    assert policy.outputs[LOGS_OUT].consent == ("analytics", "cookies_analytics")
