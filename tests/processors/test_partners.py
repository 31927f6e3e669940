"""Partners in the policy (issue 12 items 1 and 2): bad entries stop start-up naming the entry and
the rule; each partner's topic carries only its declared fields, keyed as it needs, in JSON and Avro."""

from __future__ import annotations

import copy
import io
import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import fastavro
import pytest

from processors.derive import derive_anonymized
from processors.errors import PolicyError
from processors.partners import project_schema
from processors.pipeline import BatchResult, TopicPipeline
from processors.plan import personal_fields
from processors.policy import Policy, parse_policy
from processors.pseudonym import partner_reference
from processors.schemas import SchemaCatalog
from processors.sources import check_sources

MASTER = b"M" * 32
SECRET = b"S" * 32
PARCELCO, PAYNOW = "partners.parcelco.v1", "partners.paynow.v1"
Data = dict[str, Any]


@pytest.fixture(scope="module")
def data(default_policy_path: Path) -> Data:
    return tomllib.loads(default_policy_path.read_text(encoding="utf-8"))


def checked(data: Data, catalog: SchemaCatalog) -> Policy:
    policy = parse_policy(data, "policy.toml")
    check_sources(policy, catalog)
    TopicPipeline(catalog, policy, "orders.v1", MASTER)   # compiles every output's plan, as start-up does
    return policy


def edited(data: Data, edit: Callable[[Data], None]) -> Data:
    copied = copy.deepcopy(data)
    edit(copied)
    return copied


def parcelco(**changes: Any) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        for key, value in changes.items():
            if value is None:
                data["partners"]["parcelco"].pop(key, None)
            else:
                data["partners"]["parcelco"][key] = value
    return edit


def parcelco_field(path: str, strategy: str | None) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        if strategy is None:
            data["partners"]["parcelco"]["fields"].pop(path)
        else:
            data["partners"]["parcelco"]["fields"][path] = strategy
    return edit


def new_partner(name: str, **spec: Any) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        data["partners"][name] = spec
    return edit


CONSENTED = {"source": "orders.v1", "purpose": "recommendations", "basis": "consent",
             "consent": "third_party_sharing", "region": "EU", "safeguard": "adequacy", "fields": {"order_id": "keep"}}

# (edit, the entry the message names, the rule it states)
BAD: list[tuple[str, Callable[[Data], None], str, str]] = [
    ("bad name", new_partner("Parcel Co", **CONSENTED), 'partners."Parcel Co"', "lower-case letters"),
    ("not a table", lambda d: d["partners"].__setitem__("x", "orders.v1"), 'partners."x"', "must be a table"),
    ("unknown key", parcelco(fields_needed=["x"]), 'partners."parcelco"', "unknown key(s) fields_needed"),
    ("undeclared source", parcelco(source="shipments.v1"), 'partners."parcelco".source', "a source in [sources]"),
    ("no purpose", parcelco(purpose=None), 'partners."parcelco".purpose', "states the purpose"),
    ("no basis", parcelco(basis=None), 'partners."parcelco".basis', "one of contract, legal_obligation"),
    ("unknown basis", parcelco(basis="vital_interest"), 'partners."parcelco".basis', "one of contract"),
    ("consent without purpose", parcelco(basis="consent"), 'partners."parcelco".consent',
     'basis = "consent" names the consent purpose'),
    ("consent purpose without consent basis", parcelco(consent="third_party_sharing"),
     'partners."parcelco".consent', 'only with basis = "consent"'),
    ("opt-out consent purpose", new_partner("adsco", **{**CONSENTED, "consent": "analytics"}),
     'partners."adsco".consent', "not an opt-in consent purpose"),
    ("unknown consent purpose", new_partner("adsco", **{**CONSENTED, "consent": "gossip"}),
     'partners."adsco".consent', "not an opt-in consent purpose"),
    ("no region", parcelco(region=None), 'partners."parcelco".region', "names its destination region"),
    ("no safeguard", parcelco(safeguard=None), 'partners."parcelco".safeguard', "adequacy, scc, bcr, none"),
    ("unknown safeguard", parcelco(safeguard="trust_me"), 'partners."parcelco".safeguard', "adequacy, scc, bcr"),
    ("bad key", parcelco(key="order id"), 'partners."parcelco".key', "keyed as it needs"),
    ("key not a field", parcelco(key="parcel_id"), 'partners."parcelco".key', "a string field of the source"),
    ("key not a string", parcelco(key="total_amount"), 'partners."parcelco".key', "a string field of the source"),
    ("empty store", parcelco(store=" "), 'partners."parcelco".store', "store agent"),
    ("no fields", parcelco(fields=None), 'partners."parcelco".fields', "minimum necessary"),
    ("empty fields", parcelco(fields={}), 'partners."parcelco".fields', "minimum necessary"),
    ("unknown strategy", parcelco_field("customer.name", "shout"), 'partners."parcelco".fields."customer.name"',
     "unknown strategy"),
    ("path through an array", parcelco_field("items[].sku", "keep"), 'partners."parcelco".fields."items[].sku"',
     "fields through records"),
    ("field not in schema", parcelco_field("customer.birthday", "keep"),
     'partners."parcelco".fields."customer.birthday"', "every declared field exists"),
    ("record and a field inside it", parcelco_field("customer", "keep"), 'partners."parcelco".fields."customer"',
     "list a record's fields one by one, or the record"),
    ("record holding personal fields", lambda d: d["partners"]["paynow"]["fields"].__setitem__("customer", "keep"),
     'partners."paynow".fields."customer"', "list the personal fields inside it one by one"),
    ("non-personal field transformed", parcelco_field("currency", "mask"), 'partners."parcelco".fields."currency"',
     '"keep"'),
    ("strategy that cannot apply", parcelco_field("customer.name", "generalize"),
     'partners."parcelco".fields."customer.name"', "cannot apply"),
    ("safeguard other than its transfer rule's", parcelco(region="US"), 'partners."parcelco".safeguard',
     "the one its transfer rules name"),
    ("topic taken by an output", lambda d: d["outputs"].__setitem__(PARCELCO, {"source": "orders.v1",
                                                                               "purpose": "x", "region": "EU"}),
     'partners."parcelco"', "a topic has one producer"),
]


@pytest.mark.parametrize(("edit", "entry", "rule"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_partner_entry_stops_start_up_naming_entry_and_rule(
        data: Data, catalog: SchemaCatalog, edit: Callable[[Data], None], entry: str, rule: str) -> None:
    with pytest.raises(PolicyError) as raised:
        checked(edited(data, edit), catalog)
    message = str(raised.value)
    assert message.startswith("policy policy.toml: ")
    assert entry in message and rule in message, message


def test_the_default_policy_ships_a_logistics_and_a_payment_partner(data: Data, catalog: SchemaCatalog) -> None:
    policy = checked(data, catalog)
    parcel, pay = policy.partners["parcelco"], policy.partners["paynow"]
    assert (parcel.basis, parcel.region, parcel.safeguard, parcel.store) == ("contract", "EU", "adequacy",
                                                                             "partner.parcelco")
    assert (pay.basis, pay.region, pay.safeguard, pay.store) == ("contract", "US", "scc", "partner.paynow")
    assert (parcel.topic, parcel.commands_topic) == (PARCELCO, "partners.parcelco.commands.v1")
    assert policy.outputs[PARCELCO].consent == () and policy.outputs[PARCELCO].key == ("order_id",)


def test_a_consent_based_partner_needs_that_consent(data: Data, catalog: SchemaCatalog) -> None:
    policy = checked(edited(data, new_partner("adsco", **CONSENTED)), catalog)
    assert policy.outputs["partners.adsco.v1"].consent == ("third_party_sharing",)
    assert policy.outputs["partners.adsco.v1"].key is None   # default: the subject's pseudonym


# --- projections ------------------------------------------------------------------------------------


class State:
    def __init__(self, gates: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._gates = gates or {}

    def secret(self, subject: str, partition: int) -> bytes:
        return SECRET

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        return self._gates.get(subject)


def run(policy: Policy, catalog: SchemaCatalog, order: dict[str, Any], encoding: str,
        gates: Mapping[str, Mapping[str, str]] | None = None) -> BatchResult:
    pipe = TopicPipeline(catalog, policy, "orders.v1", MASTER, encoding=encoding)
    return pipe.process([json.dumps(order).encode()], [0], State(gates))


def decoded(result: BatchResult, topic: str, encoding: str, catalog: SchemaCatalog) -> tuple[bytes | None, Data]:
    [out] = [o for o in result.outputs if o.topic == topic]
    if encoding == "json":
        return out.key, json.loads(out.value)
    schema = catalog.derived[topic]
    assert out.value[2:10] == schema.fingerprint
    return out.key, fastavro.schemaless_reader(io.BytesIO(out.value[10:]), schema.parsed, schema.parsed)


def personal_values(order: dict[str, Any], catalog: SchemaCatalog) -> dict[str, str]:
    """Every personal string of the order, by its path."""
    found = {}
    for info in personal_fields(catalog.for_topic("orders.v1").raw):
        value: Any = order
        for segment in info.path:
            value = value.get(segment) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) >= 4:
            found[info.dotted] = value
    return found


@pytest.mark.parametrize("encoding", ["json", "avro"])
def test_parcelco_gets_name_and_address_and_nothing_else_personal(
        data: Data, catalog: SchemaCatalog, example: Callable[[str], dict[str, Any]], encoding: str) -> None:
    order = example("orders.v1")
    result = run(checked(data, catalog), catalog, order, encoding)
    key, record = decoded(result, PARCELCO, encoding, catalog)
    assert key == order["order_id"].encode()   # keyed as the carrier tracks parcels
    assert set(record) == {"order_id", "event_type", "customer", "shipping_address", "carrier", "tracking_number",
                           "lethe"}
    assert record["customer"] == {"name": order["customer"]["name"]}
    assert record["shipping_address"] == order["shipping_address"]
    assert (record["carrier"], record["tracking_number"]) == (order["carrier"], order["tracking_number"])
    allowed = {"order_id", "customer.name", "shipping_address.street", "shipping_address.city",
               "shipping_address.postcode", "shipping_address.region", "carrier", "tracking_number"}
    raw = json.dumps(record)
    leaked = {path for path, value in personal_values(order, catalog).items() if path not in allowed and value in raw}
    assert leaked == set()
    assert order["customer_id"] not in raw and order["customer"]["email"] not in raw
    assert set(record["lethe"]["tags"]) <= allowed
    # the subject is named by its reference at parcelco, which parcelco's erasure commands use
    assert record["lethe"]["subject"] == partner_reference(MASTER, "parcelco", order["customer_id"])


@pytest.mark.parametrize("encoding", ["json", "avro"])
def test_paynow_gets_neither_name_nor_address(data: Data, catalog: SchemaCatalog,
                                              example: Callable[[str], dict[str, Any]], encoding: str) -> None:
    order = example("orders.v1")
    result = run(checked(data, catalog), catalog, order, encoding)
    key, record = decoded(result, PAYNOW, encoding, catalog)
    assert key == order["order_id"].encode()
    assert set(record) == {"order_id", "event_type", "total_amount", "currency", "payment_status", "lethe"}
    assert (record["total_amount"], record["currency"], record["payment_status"]) == (
        order["total_amount"], order["currency"], order["payment_status"])
    raw = json.dumps(record)
    declared = {"order_id", "total_amount", "payment_status"}
    personal = personal_values(order, catalog)
    assert [path for path, value in personal.items() if path not in declared and value in raw] == []
    assert order["customer"]["name"] not in raw and order["shipping_address"]["street"] not in raw
    assert record["lethe"]["subject"] == partner_reference(MASTER, "paynow", order["customer_id"])
    assert record["lethe"]["subject"] != partner_reference(MASTER, "parcelco", order["customer_id"])


def test_the_derived_partner_schema_holds_only_the_declared_fields(data: Data, catalog: SchemaCatalog) -> None:
    policy = checked(data, catalog)
    run(policy, catalog, {}, "avro")   # derives the schemas at start-up
    schema = catalog.derived[PAYNOW].raw
    assert [f["name"] for f in schema["fields"]] == ["event_type", "order_id", "total_amount", "currency",
                                                     "payment_status", "lethe"]
    assert schema["namespace"] == "lethe.partners.paynow.v1" and "paynow" in schema["doc"]
    parcel = catalog.derived[PARCELCO].raw
    customer = next(f for f in parcel["fields"] if f["name"] == "customer")
    assert [f["name"] for f in customer["type"]["fields"]] == ["name"]


def test_a_named_type_cut_away_is_inlined_where_a_declared_field_uses_it() -> None:
    source = {"type": "record", "name": "Shipment", "namespace": "acme", "fields": [
        {"name": "from", "type": {"type": "record", "name": "Place", "fields": [
            {"name": "street", "type": "string", "category": "contact.address"},
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["home", "work"]}}]}},
        {"name": "to", "type": "Place"},
        {"name": "via", "type": "acme.Place"},
        {"name": "mood", "type": "acme.Kind"}]}
    derived = derive_anonymized(source, "partners.x.v1")
    projected = project_schema(derived, ("to.kind", "mood", "from.street", "via"), "x")
    parsed = fastavro.parse_schema(projected)   # every name defined once, before its use
    record = {"from": {"street": "1 Main St"}, "to": {"kind": "work"}, "via": {"street": "2 Side St", "kind": "home"},
              "mood": "home", "lethe": {"policy": "v", "tags": {}, "subject": "ab12"}}
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, parsed, parsed) == record


@pytest.mark.parametrize("reason", ["restrict", "object", "quarantine"])
def test_restriction_objection_and_quarantine_hold_partners_back(
        data: Data, catalog: SchemaCatalog, example: Callable[[str], dict[str, Any]], reason: str) -> None:
    order = example("orders.v1")
    result = run(checked(data, catalog), catalog, order, "json", {order["customer_id"]: {"*": reason}})
    assert result.outputs == []
    assert {topic for topic, _, _ in result.gated} == {"orders.anonymized.v1", PARCELCO, PAYNOW}


def test_a_consent_partner_is_held_back_by_its_consent_gate_only(
        data: Data, catalog: SchemaCatalog, example: Callable[[str], dict[str, Any]]) -> None:
    order = example("orders.v1")
    policy = checked(edited(data, new_partner("adsco", **CONSENTED)), catalog)
    gates = {order["customer_id"]: {"partners.adsco.v1": "consent_missing.third_party_sharing"}}
    result = run(policy, catalog, order, "json", gates)
    assert {o.topic for o in result.outputs} == {"orders.anonymized.v1", PARCELCO, PAYNOW}
    assert list(result.gated) == [("partners.adsco.v1", "consent_missing.third_party_sharing", order["customer_id"])]
    allowed = run(policy, catalog, order, "json")
    key, record = decoded(allowed, "partners.adsco.v1", "json", catalog)
    assert key is not None and key != order["customer_id"].encode()   # the subject's pseudonym
    assert set(record) == {"order_id", "lethe"}


def test_docs_sharing_shows_what_each_default_partner_gets(data: Data, catalog: SchemaCatalog) -> None:
    from processors.partners import partners_table

    text = (Path(__file__).resolve().parents[2] / "docs" / "sharing.md").read_text(encoding="utf-8")
    shown = text.split("<!-- partners-table: generated from deploy/policy.toml -->\n")[1].split("\n<!-- end")[0]
    assert shown == partners_table(checked(data, catalog), catalog)


def test_an_extra_output_stanza_works_in_json_and_avro(data: Data, catalog: SchemaCatalog,
                                                       example: Callable[[str], dict[str, Any]]) -> None:
    """Outputs and partners share one path: an extra [outputs] stanza gets its derived schema too."""
    extra = edited(data, lambda d: d["outputs"].__setitem__("orders.shipping.v1", {
        "source": "orders.v1", "purpose": "fulfilment", "region": "EU", "fields": {"customer.name": "keep"}}))
    order = example("orders.v1")
    for encoding in ("json", "avro"):
        _, record = decoded(run(checked(extra, catalog), catalog, order, encoding), "orders.shipping.v1", encoding,
                            catalog)
        assert record["customer"] == {"name": order["customer"]["name"], "email": None, "phone": None,
                                      "date_of_birth": None}
        assert record["items"] == order["items"]   # not a partner: every field, anonymized
