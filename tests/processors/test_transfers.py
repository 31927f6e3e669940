"""International transfers (processors/transfers.py): the [transfers] table, its start-up checks, and
the decision a record meets per output in TopicPipeline: allow, pseudonymize, block."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from processors.errors import PolicyError
from processors.pipeline import BatchResult, TopicPipeline
from processors.plan import get_path, personal_fields
from processors.policy import Policy, parse_policy
from processors.schemas import SchemaCatalog
from processors.sources import check_sources
from processors.transfers import EEA, Transfers

MASTER = b"M" * 32
US_OUT, XX_OUT, EU_OUT = "orders.us.v1", "orders.xx.v1", "orders.anonymized.v1"


def rule(origin: str, destination: str, decision: str, safeguard: str | None = None) -> dict[str, str]:
    out = {"origin": origin, "destination": destination, "decision": decision}
    if safeguard:
        out["safeguard"] = safeguard
    return out


TRANSFERS: dict[str, Any] = {
    "default_origin": "EU",
    "regions": {"EU": list(EEA), "US": ["US"], "XX": []},
    "origin": {"orders.v1": "shipping_address.country"},
    "rules": [rule("EU", "US", "pseudonymize"), rule("EU", "XX", "block"), rule("US", "EU", "allow", "adequacy"),
              rule("XX", "EU", "block"), rule("XX", "US", "block"), rule("US", "XX", "block")],
}


@pytest.fixture(scope="module")
def base(default_policy_path: Path) -> dict[str, Any]:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    data["transfers"] = copy.deepcopy(TRANSFERS)
    del data["partners"]   # outputs are what is tested here; partners take the same routes
    data["outputs"][US_OUT] = {"source": "orders.v1", "purpose": "support", "region": "US",
                               "categories": {"identity.name": "keep", "contact.email": "mask"},
                               "fields": {"shipping_address.postcode": "generalize"}}
    data["outputs"][XX_OUT] = {"source": "orders.v1", "purpose": "support", "region": "XX"}
    return data


@pytest.fixture(scope="module")
def policy(base: dict[str, Any]) -> Policy:
    return parse_policy(copy.deepcopy(base))


# --- the table and its checks ---------------------------------------------------------------------

def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return change


DELETE = object()

MISTAKES: list[tuple[str, Callable[[dict[str, Any]], None], tuple[str, ...]]] = [
    ("transfers is not a table", _set("transfers", ["EU"]), ("transfers must be a table",)),
    ("an unknown key", _set("transfers/residency", "EU"), ("unknown key(s) residency",)),
    ("a lower-case region", _set("transfers/regions/eu", ["DE"]), ("regions.eu", "upper case")),
    ("a lower-case country", _set("transfers/regions/US", ["us"]), ("regions.US", "alpha-2")),
    ("a country in two regions", _set("transfers/regions/US", ["US", "DE"]), ("DE is in both EU and US",)),
    ("default_origin not a region", _set("transfers/default_origin", "APAC"), ("default_origin = 'APAC'",)),
    ("origin of an undeclared source", _set("transfers/origin/tickets.v1", "country"),
     ('origin."tickets.v1"', "not a declared source")),
    ("origin not a path", _set("transfers/origin/orders.v1", "shipping address"), ('origin."orders.v1"',)),
    ("a rule with an unknown key", _set("transfers/rules/0/basis", "contract"), ("rules[0]", "basis")),
    ("a rule from an unknown region", _set("transfers/rules/0/origin", "APAC"), ("rules[0].origin = 'APAC'",)),
    ("a rule within one region", _set("transfers/rules/0/destination", "EU"), ("rules[0]", "both EU")),
    ("two rules for one pair", _set("transfers/rules/1", rule("EU", "US", "block")),
     ("rules[1]", "second rule for EU to US")),
    ("an unknown decision", _set("transfers/rules/0/decision", "encrypt"), ("rules[0].decision = 'encrypt'",)),
    ("an unknown safeguard", _set("transfers/rules/0/safeguard", "hope"), ("rules[0].safeguard = 'hope'",)),
    ("allow without a safeguard", _set("transfers/rules/0/decision", "allow"),
     ("rules[0]", "allow from EU to US needs a safeguard", "section 9")),
    ("allow resting on none", lambda d: d["transfers"]["rules"].__setitem__(0, rule("EU", "US", "allow", "none")),
     ("needs a safeguard",)),
    ("an output without a region", _set(f"outputs/{XX_OUT}/region", DELETE), (f'outputs."{XX_OUT}" needs \'region\'',)),
    ("an output to an unknown region", _set(f"outputs/{XX_OUT}/region", "APAC"),
     (f'outputs."{XX_OUT}".region = \'APAC\'', "not a region")),
    ("an output region not a string", _set(f"outputs/{XX_OUT}/region", 1), ("region must be a region name",)),
    ("no rule for one origin of an output", lambda d: d["transfers"]["rules"].pop(2),
     (f'outputs."{EU_OUT}"', "origin US to destination EU", "no transfer rule")),
]


@pytest.mark.parametrize(("case", "change", "fragments"), MISTAKES, ids=[c for c, _, _ in MISTAKES])
def test_each_mistake_stops_loading_and_names_it(base: dict[str, Any], case: str,
                                                 change: Callable[[dict[str, Any]], None],
                                                 fragments: tuple[str, ...]) -> None:
    data = copy.deepcopy(base)
    change(data)
    with pytest.raises(PolicyError) as caught:
        parse_policy(data)
    for fragment in fragments:
        assert fragment in str(caught.value), (case, str(caught.value))


def test_without_an_origin_field_only_the_default_residency_needs_rules(base: dict[str, Any]) -> None:
    data = copy.deepcopy(base)
    data["transfers"]["origin"] = {}
    data["transfers"]["rules"] = [rule("EU", "US", "pseudonymize"), rule("EU", "XX", "block")]
    policy = parse_policy(data)
    assert policy.transfers is not None and policy.transfers.origins_of("orders.v1") == ("EU",)
    data["transfers"]["rules"] = [rule("EU", "US", "pseudonymize")]
    with pytest.raises(PolicyError, match=r'outputs."orders.xx.v1" sends records of origin EU to destination XX'):
        parse_policy(data)


def test_no_transfers_table_no_region_needed(default_policy_path: Path) -> None:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    del data["transfers"]
    for output in data["outputs"].values():
        output.pop("region")
    assert parse_policy(data).transfers is None


def test_the_origin_field_is_a_string_field_of_its_schema(base: dict[str, Any], catalog: SchemaCatalog) -> None:
    check_sources(parse_policy(copy.deepcopy(base)), catalog)
    for path, problem in (("shipping_address.planet", "not a field"), ("total_amount", "not a string field")):
        data = copy.deepcopy(base)
        data["transfers"]["origin"]["orders.v1"] = path
        with pytest.raises(PolicyError, match=f'transfers.origin."orders.v1" = {path!r}: {problem}'):
            check_sources(parse_policy(data), catalog)


@pytest.mark.parametrize(("value", "region"), [
    ("DE", "EU"), ("de", "EU"), (" NO ", "EU"), ("US", "US"), ("EU", "EU"), ("XX", "XX"),
    ("BR", "EU"), ("", "EU"), (None, "EU"), (42, "EU"),
])
def test_region_of_a_country_a_region_or_else_the_default_residency(policy: Policy, value: Any, region: str) -> None:
    assert policy.transfers is not None
    assert policy.transfers.region_of(value) == region


def test_decide() -> None:
    transfers = Transfers(rules={})
    assert transfers.decide("EU", "EU") == ("allow", "none")
    with pytest.raises(PolicyError, match="no rule for origin EU to destination US"):
        transfers.decide("EU", "US")


def test_the_shipped_policy_declares_transfers(default_policy: Policy) -> None:
    transfers = default_policy.transfers
    assert transfers is not None and transfers.default_origin == "EU"
    regions = {o.topic: o.region for o in default_policy.outputs.values()}
    assert regions == {"orders.anonymized.v1": "EU", "logs.anonymized.v1": "EU",
                       "partners.parcelco.v1": "EU", "partners.paynow.v1": "US"}
    assert transfers.decide("EU", "US") == ("allow", "scc")
    assert transfers.region_of("GB") == "UK" and transfers.region_of("FR") == "EU"


# --- per record, per output -----------------------------------------------------------------------

def order(example: Callable[[str], dict[str, Any]], customer: str, country: Any, n: int = 0) -> dict[str, Any]:
    record = example("orders.v1")
    record["customer_id"], record["event_id"] = customer, f"ev-{len(customer)}-{n}"
    if country is DELETE:   # a missing field: the address is optional, its country not
        del record["shipping_address"]
    elif country is None:
        record["shipping_address"] = None
    else:
        record["shipping_address"]["country"] = country
    return record


def process(catalog: SchemaCatalog, policy: Policy, records: list[dict[str, Any]]) -> BatchResult:
    pipe = TopicPipeline(catalog, policy, "orders.v1", MASTER)

    class State:
        def secret(self, subject: str, partition: int) -> bytes | None:
            return subject.encode().ljust(32, b"s")

        def gates(self, subject: str | None, partition: int, session: str | None = None) -> None:
            return None
    return pipe.process([json.dumps(r).encode() for r in records], [0] * len(records), State())


def by_output(result: BatchResult) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for o in result.outputs:
        out.setdefault(o.topic, []).append(json.loads(o.value))
    return out


def test_an_eu_record_reaches_eu_pseudonymized_to_us_and_not_xx(catalog: SchemaCatalog, policy: Policy,
                                                                 example: Callable[[str], dict[str, Any]]) -> None:
    raw = order(example, "cust-1", "DE")
    result = process(catalog, policy, [copy.deepcopy(raw)])
    outs = by_output(result)
    assert set(outs) == {EU_OUT, US_OUT}, "blocked: nothing for orders.xx.v1"
    eu, us = outs[EU_OUT][0], outs[US_OUT][0]
    assert eu["total_amount"] == raw["total_amount"] and eu["customer"]["name"] is None   # as today
    # to the US: nothing the output would keep, generalize or mask comes through raw
    schema = catalog.for_topic("orders.v1").raw
    for info in personal_fields(schema):
        if "[]" in info.path or "{}" in info.path:
            continue
        value = get_path(raw, info.path)
        if value is not None:
            assert get_path(us, info.path) != value, info.dotted
            if isinstance(value, str):
                assert value not in result.outputs[1].value.decode(), info.dotted
    assert us["customer"]["name"] and us["customer"]["name"] != raw["customer"]["name"]   # kept -> pseudonym
    assert us["customer"]["email"] and "@" not in us["customer"]["email"]                  # masked -> pseudonym
    assert us["shipping_address"]["postcode"] not in (None, raw["shipping_address"]["postcode"], "NW")
    assert us["lethe"]["tags"]["customer.name"] == "identity.name:pseudonym"
    assert us["lethe"]["tags"]["tracking_number"] == "transaction.logistics:pseudonym"
    assert us["total_amount"] is None   # a kept non-string personal field is dropped
    assert us["shipping_address"]["country"] == "DE" and us["currency"] == raw["currency"]   # not personal
    # the same subject's pseudonym in both outputs: joinable as the policy allows
    assert us["customer_id"] == eu["customer_id"] != raw["customer_id"]
    assert result.transfers == {(EU_OUT, "EU", "EU", "allow"): 1, (US_OUT, "EU", "US", "pseudonymize"): 1,
                                (XX_OUT, "EU", "XX", "block"): 1}
    assert result.transfer_held == {(US_OUT, "EU", "US", "pseudonymize", "cust-1"): 1,
                                    (XX_OUT, "EU", "XX", "block", "cust-1"): 1}


def test_the_origin_comes_from_the_named_field_or_the_default_residency(
        catalog: SchemaCatalog, policy: Policy, example: Callable[[str], dict[str, Any]]) -> None:
    records = [order(example, "cust-us", "US", 0), order(example, "cust-us", "us", 1),
               order(example, "cust-null", None), order(example, "cust-gone", DELETE),
               order(example, "cust-br", "BR"), order(example, "cust-x", "XX")]
    result = process(catalog, policy, records)
    assert not result.dead
    assert result.transfers == {
        (EU_OUT, "US", "EU", "allow"): 2, (US_OUT, "US", "US", "allow"): 2, (XX_OUT, "US", "XX", "block"): 2,
        (EU_OUT, "EU", "EU", "allow"): 3, (US_OUT, "EU", "US", "pseudonymize"): 3, (XX_OUT, "EU", "XX", "block"): 3,
        (EU_OUT, "XX", "EU", "block"): 1, (US_OUT, "XX", "US", "block"): 1, (XX_OUT, "XX", "XX", "allow"): 1,
    }
    # once per batch and subject: the US subject's two blocked records are one entry
    assert result.transfer_held[(XX_OUT, "US", "XX", "block", "cust-us")] == 2
    assert {k[-1] for k in result.transfer_held if k[3] == "pseudonymize"} == {"cust-null", "cust-gone", "cust-br"}
    us = [json.loads(o.value) for o in result.outputs if o.topic == US_OUT]
    assert [r["customer"]["name"] == records[0]["customer"]["name"] for r in us[:2]] == [True, True]   # US to US


def test_without_transfers_nothing_is_counted(catalog: SchemaCatalog, default_policy_path: Path,
                                               example: Callable[[str], dict[str, Any]]) -> None:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    del data["transfers"], data["partners"]
    result = process(catalog, parse_policy(data), [order(example, "cust-1", "US")])
    assert len(result.outputs) == 1 and not result.transfers and not result.transfer_held


def test_every_default_origin_reaches_the_shipped_outputs(catalog: SchemaCatalog, default_policy: Policy,
                                                          example: Callable[[str], dict[str, Any]]) -> None:
    records = [order(example, f"c{i}", country) for i, country in enumerate(("GB", "CH", "US", "FR", None))]
    result = process(catalog, default_policy, records)
    # each order reaches the anonymized output and both partners (parcelco in the EU, paynow in the US)
    assert len(result.outputs) == 15 and not result.transfer_held
    assert sum(result.transfers.values()) == 15 and {k[3] for k in result.transfers} == {"allow"}


def test_a_pseudonymized_log_keeps_no_raw_ip_coordinates_or_agent(
        catalog: SchemaCatalog, base: dict[str, Any], example: Callable[[str], dict[str, Any]]) -> None:
    data = copy.deepcopy(base)
    data["outputs"]["logs.us.v1"] = {**data["outputs"]["logs.anonymized.v1"], "region": "US"}
    policy = parse_policy(data)
    raw = example("logs.v1")
    pipe = TopicPipeline(catalog, policy, "logs.v1", MASTER)
    decoded = pipe.decode([json.dumps(raw).encode()])
    result = pipe.anonymize(decoded, {raw["customer_id"]: b"s" * 32})
    outs = by_output(result)
    eu, us = outs["logs.anonymized.v1"][0], outs["logs.us.v1"][0]
    assert eu["ip"] != raw["ip"] and eu["geo"]["lat"] is not None   # the EU output: generalized, as today
    assert us["ip"] and us["ip"] != eu["ip"] and "." not in us["ip"]   # generalized -> pseudonym
    assert us["geo"]["lat"] is None and us["geo"]["lon"] is None        # generalized numbers -> dropped
    assert us["lethe"]["tags"]["ip"] == "network.ip:pseudonym"
    text = result.outputs[1].value.decode()
    for value in (raw["ip"], raw["user_agent"], raw["session_id"], raw["url"]):
        assert value not in text
    assert result.transfers[("logs.us.v1", "EU", "US", "pseudonymize")] == 1
