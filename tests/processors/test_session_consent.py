"""Anonymous cookie consent (issue 13 item 7): a session's banner choice in consent.v1, and how it gates
records, per purpose, until the session's customer has a decision of their own."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.consent import (
    SESSION_CHOICE_MAX_AGE,
    ConsentEvent,
    ConsentPolicy,
    apply_consent,
    consent_audit,
    decide,
    expire_choices,
    merge_states,
    parse_consent_policy,
    record_gates,
)
from processors.errors import InvalidRecord, PolicyError
from processors.inputs import Inputs
from processors.pipeline import TopicPipeline
from processors.policy import CATEGORIES, Policy, load_policy
from processors.schemas import SchemaCatalog, TopicSchema
from processors.time import parse_time

VERSION = "2026-11-01"
OLD = "2026-09-01"
POLICY = ConsentPolicy(material_versions=(VERSION,))
OUT = "logs.anonymized.v1"
ADS = "ads.v1"
OUTPUTS: dict[str, Sequence[str]] = {OUT: ("analytics", "cookies_analytics"), ADS: ("cookies_advertising",)}


def choice(purpose: str, granted: bool, version: str = VERSION, at: str = "2026-11-20T10:00:00Z",
           session: bool = True) -> ConsentEvent:
    who = "sess-1" if session else "cust-1"
    return ConsentEvent(f"ev-{session}-{purpose}-{granted}-{version}-{at}", at, who, purpose, granted, version,
                        "cookie_banner" if session else "account_settings", session=session)


def state(*events: ConsentEvent) -> dict[str, Any] | None:
    held: dict[str, Any] | None = None
    for event in events:
        held, _ = apply_consent(held, event)
    return held


def mine(purpose: str, granted: bool, version: str = VERSION) -> ConsentEvent:
    return choice(purpose, granted, version, session=False)


# customer's decisions, session's choices, gates
CASES: list[tuple[str, tuple[ConsentEvent, ...], tuple[ConsentEvent, ...], dict[str, str]]] = [
    ("nothing: opt-in missing", (), (), {ADS: "consent_missing.cookies_advertising"}),
    ("session refuses an opt-out purpose", (), (choice("cookies_analytics", False),),
     {OUT: "session_consent_refused.cookies_analytics", ADS: "consent_missing.cookies_advertising"}),
    ("session grants the opt-in purpose", (), (choice("cookies_advertising", True),), {}),
    ("session grant under an old material version is stale", (), (choice("cookies_advertising", True, OLD),),
     {ADS: "session_consent_stale.cookies_advertising"}),
    ("session stale refusal of an opt-out purpose still refuses", (), (choice("analytics", False, OLD),),
     {OUT: "session_consent_refused.analytics", ADS: "consent_missing.cookies_advertising"}),
    ("session refuses an opt-in purpose", (), (choice("cookies_advertising", False),),
     {ADS: "session_consent_missing.cookies_advertising"}),
    ("customer's grant overrides the session's refusal", (mine("cookies_analytics", True),),
     (choice("cookies_analytics", False), choice("cookies_advertising", True)), {}),
    ("customer's refusal overrides the session's grant", (mine("cookies_advertising", False),),
     (choice("cookies_advertising", True),), {ADS: "consent_missing.cookies_advertising"}),
    ("customer decided another purpose: the session's choice stands", (mine("analytics", True),),
     (choice("cookies_analytics", False),),
     {OUT: "session_consent_refused.cookies_analytics", ADS: "consent_missing.cookies_advertising"}),
    ("customer's stale grant is the customer's, not the session's", (mine("cookies_advertising", True, OLD),),
     (choice("cookies_advertising", True),), {ADS: "consent_stale.cookies_advertising"}),
    ("a customer without a session", (mine("cookies_analytics", False), mine("cookies_advertising", True)), (),
     {OUT: "consent_refused.cookies_analytics"}),
]


@pytest.mark.parametrize(("customer", "session", "gates"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_record_gates(customer: tuple[ConsentEvent, ...], session: tuple[ConsentEvent, ...],
                      gates: dict[str, str]) -> None:
    assert record_gates(state(*customer), state(*session), OUTPUTS, POLICY, VERSION) == gates


def test_without_a_session_the_gates_are_the_customers() -> None:
    refused = state(mine("cookies_analytics", False))
    assert record_gates(refused, None, OUTPUTS, POLICY, VERSION) == {
        OUT: "consent_refused.cookies_analytics", ADS: "consent_missing.cookies_advertising"}


# --- a session's state ----------------------------------------------------------------------------

def test_a_session_keeps_its_current_choices_only() -> None:
    first, second = choice("cookies_analytics", False), choice("cookies_analytics", True, at="2026-11-21T10:00:00Z")
    held = decide(decide(None, first).state, second).state
    assert held["history"] == [] and held["current"]["cookies_analytics"]["granted"] is True
    customer = decide(None, mine("analytics", True)).state
    assert len(customer["history"]) == 1


LATER = choice("cookies_analytics", True, at="2026-11-22T10:00:00Z")
EARLIER = choice("cookies_analytics", False, at="2026-11-21T10:00:00Z")
OTHER = choice("cookies_advertising", True, at="2026-11-21T10:00:00Z")


@pytest.mark.parametrize(("a", "b"), [
    (state(LATER), state(EARLIER, OTHER)),
    (state(EARLIER), state(LATER, OTHER)),
    (state(EARLIER, OTHER), state(LATER)),
])
def test_merging_keeps_the_later_choice_per_purpose_in_any_order(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = merge_states(a, b)
    assert merged == merge_states(b, a)
    assert merged is not None and merged["history"] == []
    assert {p: d["event_id"] for p, d in merged["current"].items()} == {
        "cookies_analytics": LATER.event_id, "cookies_advertising": OTHER.event_id}


def test_merging_with_nothing_is_the_other_state() -> None:
    held = state(EARLIER)
    assert merge_states(None, held) == merge_states(held, None) == {"current": held["current"], "history": []}
    assert merge_states(None, None) is None


def test_choices_older_than_the_cutoff_expire() -> None:
    held = state(EARLIER, OTHER, choice("analytics", False, at="2026-11-25T10:00:00Z"))
    cutoff = parse_time("2026-11-22T00:00:00Z")
    kept = expire_choices(held, cutoff)
    assert kept is not None and set(kept["current"]) == {"analytics"}
    assert expire_choices(held, parse_time("2026-11-26T00:00:00Z")) is None
    assert expire_choices(held, parse_time("2026-11-01T00:00:00Z")) == {"current": held["current"], "history": []}


def test_a_session_choice_is_audited_under_the_session() -> None:
    audit = consent_audit(choice("cookies_analytics", False), 1_700_000_000.0, True)
    assert audit["subject"] == "sess-1"
    assert audit["details"]["subject_kind"] == "session"
    assert "sess-1" not in json.dumps(audit["details"])
    assert "subject_kind" not in consent_audit(mine("analytics", True), 1_700_000_000.0, True)["details"]


# --- the policy knob --------------------------------------------------------------------------------

def test_the_max_age_of_a_session_choice() -> None:
    default = parse_consent_policy({}, CATEGORIES, "p.toml")
    assert default.session_choice_max_age == SESSION_CHOICE_MAX_AGE == 395 * 86400
    assert parse_consent_policy({"session_choice_max_age": "30d"}, CATEGORIES, "p.toml").session_choice_max_age \
        == 30 * 86400


@pytest.mark.parametrize("value", ["forever", 395, "-1d", ""])
def test_a_bad_max_age_is_named(value: Any) -> None:
    with pytest.raises(PolicyError, match=r"consent\.session_choice_max_age"):
        parse_consent_policy({"session_choice_max_age": value}, CATEGORIES, "p.toml")


def test_the_default_policy_keeps_banner_choices_13_months(default_policy: Policy) -> None:
    assert default_policy.consent.session_choice_max_age == 395 * 86400


# --- consent.v1 with a session id -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def decode(catalog: SchemaCatalog) -> Callable[[bytes | None], ConsentEvent]:
    return Inputs(catalog).consent


def banner(**changes: Any) -> dict[str, Any]:
    return {"event_id": "ev-9", "occurred_at": "2026-11-20T13:58:41Z", "customer_id": None,
            "session_id": "sess-5d2c9e71", "purpose": "cookies_analytics", "granted": False,
            "policy_version": VERSION, "source": "cookie_banner", **changes}


def test_a_banner_choice_before_login_is_the_sessions(decode: Callable[[bytes | None], ConsentEvent]) -> None:
    event = decode(orjson.dumps(banner()))
    assert (event.subject, event.session) == ("sess-5d2c9e71", True)
    without_key = {k: v for k, v in banner().items() if k != "customer_id"}
    assert decode(orjson.dumps(without_key)) == event


def test_with_a_customer_id_it_is_the_customers(decode: Callable[[bytes | None], ConsentEvent]) -> None:
    event = decode(orjson.dumps(banner(customer_id="cust-8841")))
    assert (event.subject, event.session) == ("cust-8841", False)


@pytest.mark.parametrize(("changes", "rule", "path"), [
    ({"session_id": None}, "required", "customer_id"),
    ({"session_id": ""}, "min_length", "session_id"),
    ({"session_id": 7}, "type", "session_id"),
    ({"customer_id": "", "session_id": "sess-SECRET"}, "min_length", "customer_id"),
])
def test_a_consent_without_a_subject_is_dead_lettered(decode: Callable[[bytes | None], ConsentEvent],
                                                      changes: dict[str, Any], rule: str, path: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(orjson.dumps(banner(**changes)))
    assert (caught.value.rule, caught.value.path) == (rule, path)
    assert "sess-" not in str(caught.value)


def test_a_version_1_avro_record_still_decodes(decode: Callable[[bytes | None], ConsentEvent], catalog: SchemaCatalog,
                                               single_object: Callable[[TopicSchema, dict[str, Any]], bytes]) -> None:
    v1 = next(s for s in catalog.by_fingerprint.values() if s.topic == "consent.v1" and s.raw["version"] == 1)
    assert v1.raw["fields"][2] == {"name": "customer_id", "type": "string", "category": "identifier.customer",
                                   "format": "subject"}
    old = {k: v for k, v in banner(customer_id="cust-8841").items() if k != "session_id"}
    event = decode(single_object(v1, old))
    assert (event.subject, event.session, event.purpose) == ("cust-8841", False, "cookies_analytics")


# --- the pipeline: a record's gates follow its customer and its session -------------------------------------

class Sessions:
    """A SubjectView whose gates are processors.consent.record_gates over given states."""

    def __init__(self, policy: Policy, customers: Mapping[str, Any], sessions: Mapping[str, Any]) -> None:
        self.policy, self.customers, self.sessions = policy, customers, sessions
        self.outputs = {o.topic: o.consent for o in policy.outputs.values() if o.consent}
        self.asked: list[tuple[str | None, str | None]] = []

    def secret(self, subject: str, partition: int) -> bytes:
        return subject.encode().ljust(32, b"s")

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str]:
        self.asked.append((subject, session))
        return record_gates(self.customers.get(subject or ""), self.sessions.get(session or ""), self.outputs,
                            self.policy.consent, self.policy.version)


def logs(example: Callable[[str], dict[str, Any]], *pairs: tuple[str | None, str]) -> list[bytes]:
    return [orjson.dumps({**example("logs.v1"), "event_id": f"ev-{n}", "customer_id": customer, "session_id": session})
            for n, (customer, session) in enumerate(pairs)]


def test_logs_are_gated_by_their_session_until_the_customer_decides(
        catalog: SchemaCatalog, default_policy: Policy, example: Callable[[str], dict[str, Any]]) -> None:
    refused = state(choice("cookies_analytics", False))
    view = Sessions(default_policy, {"cust-2": state(mine("cookies_analytics", True))}, {"sess-S": refused})
    pipe = TopicPipeline(catalog, default_policy, "logs.v1", b"k" * 32)
    batch = logs(example, (None, "sess-S"), (None, "sess-T"), ("cust-1", "sess-S"), ("cust-2", "sess-S"),
                 (None, "sess-S"))
    result = pipe.process(batch, [0] * len(batch), view)
    assert sorted(o.index for o in result.outputs if o.topic == OUT) == [1, 3]
    reason = "session_consent_refused.cookies_analytics"
    assert dict(result.gated) == {(OUT, reason, None): 2, (OUT, reason, "cust-1"): 1}
    assert sorted(view.asked, key=str) == sorted(
        [(None, "sess-S"), (None, "sess-T"), ("cust-1", "sess-S"), ("cust-2", "sess-S")], key=str)


def test_an_opt_in_output_holds_back_anonymous_records_unless_their_session_granted(
        catalog: SchemaCatalog, default_policy_path: Path, example: Callable[[str], dict[str, Any]],
        tmp_path: Path) -> None:
    text = default_policy_path.read_text().replace('consent = ["analytics", "cookies_analytics"]',
                                                   'consent = ["analytics", "cookies_advertising"]')
    (tmp_path / "p.toml").write_text(text)
    policy = load_policy(tmp_path / "p.toml")
    view = Sessions(policy, {}, {"sess-G": state(choice("cookies_advertising", True))})
    pipe = TopicPipeline(catalog, policy, "logs.v1", b"k" * 32)
    batch = logs(example, (None, "sess-G"), (None, "sess-N"), ("cust-1", "sess-N"))
    result = pipe.process(batch, [0] * len(batch), view)
    assert [o.index for o in result.outputs if o.topic == OUT] == [0]
    assert dict(result.gated) == {(OUT, "consent_missing.cookies_advertising", None): 1,
                                  (OUT, "consent_missing.cookies_advertising", "cust-1"): 1}
