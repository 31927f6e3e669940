"""TopicPipeline end to end, with the default policy and sample traffic, no Kafka."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastavro import parse_schema, schemaless_reader

from processors.decode import SINGLE_OBJECT_MAGIC
from processors.errors import InvalidRecord, SchemaError
from processors.pipeline import BatchResult, Output, TopicPipeline
from processors.plan import personal_fields
from processors.policy import CATEGORIES, Policy, parse_policy
from processors.pseudonym import anonymous_key, derive_subject_key, pseudonym
from processors.sample import Person, Traffic, invalid_enum, malformed_records
from processors.schemas import SchemaCatalog, TopicSchema
from processors.strategies import STRATEGIES

MASTER = b"M" * 32
OTHER_MASTER = b"N" * 32
SOURCES = ("orders.v1", "logs.v1")
OUTPUT_OF = {"orders.v1": "orders.anonymized.v1", "logs.v1": "logs.anonymized.v1"}
PERSONAL = "zofia.kowalczyk@leak.example"


def secret_of(customer_id: str, generation: int = 0) -> bytes:
    return hashlib.sha256(f"{customer_id}/{generation}".encode()).digest()


@pytest.fixture(scope="module")
def traffic(examples_dir: Path) -> Traffic:
    return Traffic(examples_dir, subjects=25, seed=11)


@pytest.fixture(scope="module")
def secrets(traffic: Traffic) -> dict[str, bytes]:
    return {p.customer_id: secret_of(p.customer_id) for p in traffic.people}


@pytest.fixture(scope="module")
def events(traffic: Traffic) -> dict[str, list[dict[str, Any]]]:
    orders = [traffic.order() for _ in range(150)]
    logs = [traffic.log(anonymous=i % 6 == 0) for i in range(150)]
    return {"orders.v1": orders, "logs.v1": logs}


def pipeline(catalog: SchemaCatalog, policy: Policy, source: str, master: bytes = MASTER,
             encoding: str = "json") -> TopicPipeline:
    """The anonymized outputs of ``policy``: its partners get personal data by design (test_partners.py)."""
    return TopicPipeline(catalog, without_partners(policy), source, master, encoding=encoding)


def without_partners(policy: Policy) -> Policy:
    outputs = {topic: out for topic, out in policy.outputs.items() if out.partner is None}
    return dataclasses.replace(policy, outputs=outputs, partners={})


def run(pipe: TopicPipeline, values: list[bytes | None], secrets: Mapping[str, bytes]) -> BatchResult:
    decoded = pipe.decode(values)
    assert set(decoded.subjects) <= set(secrets)
    return pipe.anonymize(decoded, secrets)


def encode_all(records: list[dict[str, Any]]) -> list[bytes | None]:
    return [json.dumps(r).encode() for r in records]


@pytest.fixture(scope="module")
def results(catalog: SchemaCatalog, default_policy: Policy, events: dict[str, list[dict[str, Any]]],
            secrets: dict[str, bytes]) -> dict[str, BatchResult]:
    return {source: run(pipeline(catalog, default_policy, source), encode_all(events[source]), secrets)
            for source in SOURCES}


def person_of(traffic: Traffic, customer_id: str | None) -> Person | None:
    return next((p for p in traffic.people if p.customer_id == customer_id), None)


# --- outputs and keys ------------------------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES)
def test_one_output_per_record(results: dict[str, BatchResult], events: dict[str, list[dict[str, Any]]],
                               source: str) -> None:
    result = results[source]
    assert result.dead == []
    assert [o.index for o in result.outputs] == list(range(len(events[source])))
    assert {o.topic for o in result.outputs} == {OUTPUT_OF[source]}


@pytest.mark.parametrize("source", SOURCES)
def test_key_is_the_subject_pseudonym(results: dict[str, BatchResult], events: dict[str, list[dict[str, Any]]],
                                      secrets: dict[str, bytes], source: str) -> None:
    anonymous = 0
    for output in results[source].outputs:
        event = events[source][output.index]
        value = orjson.loads(output.value)
        assert output.key is not None
        if event["customer_id"] is not None:
            subject_key = derive_subject_key(MASTER, secrets[event["customer_id"]])
            expected = pseudonym(subject_key, b"subject", event["customer_id"])
            assert output.key == expected.encode()
            assert value["customer_id"] == expected
        else:
            anonymous += 1
            expected = pseudonym(anonymous_key(MASTER), b"session_id", event["session_id"])
            assert output.key == expected.encode()
            assert value["session_id"] == expected
    assert anonymous == (25 if source == "logs.v1" else 0)


def test_key_is_equal_across_topics_for_the_same_customer(catalog: SchemaCatalog, default_policy: Policy,
                                                          traffic: Traffic, secrets: dict[str, bytes]) -> None:
    orders, logs = pipeline(catalog, default_policy, "orders.v1"), pipeline(catalog, default_policy, "logs.v1")
    people = traffic.people[:10]
    order_keys = [o.key for o in run(orders, encode_all([traffic.order(p) for p in people]), secrets).outputs]
    log_keys = [o.key for o in run(logs, encode_all([traffic.log(p) for p in people]), secrets).outputs]
    assert order_keys == log_keys
    assert len(set(order_keys)) == len(people)


def test_keys_and_outputs_are_stable_across_pipeline_instances(
    catalog: SchemaCatalog, default_policy: Policy, events: dict[str, list[dict[str, Any]]],
    secrets: dict[str, bytes], results: dict[str, BatchResult],
) -> None:
    for source in SOURCES:
        again = run(pipeline(catalog, default_policy, source), encode_all(events[source]), dict(secrets))
        assert [(o.key, o.value) for o in again.outputs] == [(o.key, o.value) for o in results[source].outputs]


def _pseudonymous_values(output: Output) -> set[str]:
    value = orjson.loads(output.value)
    return {v for v in (value.get("customer_id"), value.get("order_id"), value.get("session_id")) if v}


@pytest.mark.parametrize("source", SOURCES)
def test_new_secret_makes_the_subject_unlinkable(
    catalog: SchemaCatalog, default_policy: Policy, events: dict[str, list[dict[str, Any]]],
    secrets: dict[str, bytes], results: dict[str, BatchResult], source: str,
) -> None:
    shredded = events[source][1]["customer_id"]
    assert shredded is not None
    rotated = {**secrets, shredded: secret_of(shredded, generation=1)}
    after = run(pipeline(catalog, default_policy, source), encode_all(events[source]), rotated)
    for before_output, after_output in zip(results[source].outputs, after.outputs, strict=True):
        if events[source][before_output.index]["customer_id"] == shredded:
            assert after_output.key != before_output.key
            assert not _pseudonymous_values(after_output) & _pseudonymous_values(before_output)
        else:
            assert after_output.key == before_output.key
            assert after_output.value == before_output.value


@pytest.mark.parametrize("source", SOURCES)
def test_other_master_key_gives_other_keys(
    catalog: SchemaCatalog, default_policy: Policy, events: dict[str, list[dict[str, Any]]],
    secrets: dict[str, bytes], results: dict[str, BatchResult], source: str,
) -> None:
    other = run(pipeline(catalog, default_policy, source, OTHER_MASTER), encode_all(events[source]), secrets)
    for mine, theirs in zip(results[source].outputs, other.outputs, strict=True):
        assert mine.key != theirs.key
        assert not _pseudonymous_values(mine) & _pseudonymous_values(theirs)


# --- nothing identifying gets out ----------------------------------------------------------------

def identifiers(kind: str, event: dict[str, Any], person: Person | None) -> Iterator[str]:
    """The direct identifiers of one kind that an input event carries, in every form they may take."""
    if kind == "customer_id":
        yield from [event["customer_id"]] if event.get("customer_id") else []
    elif kind in ("order_id", "session_id"):
        yield from [event[kind]] if kind in event else []
    elif kind == "ip":
        yield from [event["ip"]] if "ip" in event else []
    elif kind == "lat/lon":
        if event.get("geo"):
            yield from (repr(event["geo"]["lat"]), repr(event["geo"]["lon"]))
    elif person is not None:
        if kind == "name":
            yield from (person.name, *person.name.split())
        elif kind == "email":
            yield person.email
        elif kind == "phone":
            compact = person.phone.replace(" ", "")
            yield from (person.phone, compact, compact.lstrip("+"))
        elif kind == "street":
            yield person.street


KINDS = ("name", "email", "phone", "street", "ip", "lat/lon", "customer_id", "session_id", "order_id")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("source", SOURCES)
def test_no_direct_identifier_in_output(results: dict[str, BatchResult], events: dict[str, list[dict[str, Any]]],
                                        traffic: Traffic, source: str, kind: str) -> None:
    checked = 0
    for output in results[source].outputs:
        event = events[source][output.index]
        published = (output.value + b"\n" + (output.key or b"")).decode().lower()
        for identifier in identifiers(kind, event, person_of(traffic, event.get("customer_id"))):
            checked += 1
            assert identifier.lower() not in published, f"{kind} of record {output.index} leaked"
    assert checked > 0 or (source, kind) in {("orders.v1", "ip"), ("orders.v1", "lat/lon"),
                                             ("orders.v1", "session_id"), ("logs.v1", "order_id")}


def test_free_text_is_derived_never_published(catalog: SchemaCatalog, default_policy: Policy, traffic: Traffic,
                                              secrets: dict[str, bytes]) -> None:
    person = traffic.people[0]
    neighbour = f"Leave it with Jürgen next door, call {person.phone}"
    hello = f"Hi, {person.name} here"
    notes = {   # a neighbour's name is not detected, so redaction would publish it; derive does not
        neighbour: f"[free_text: en; {len(neighbour)} chars; contact.phone]",
        "Bitte bei Frau Schmidt nebenan abgeben": "[free_text: de; 38 chars]",
        hello: f"[free_text: {len(hello)} chars; identity.name]",
    }
    orders = []
    for note in notes:
        order = traffic.order(person)
        order["notes"] = note
        orders.append(order)
    result = run(pipeline(catalog, default_policy, "orders.v1"), encode_all(orders), secrets)
    published = [orjson.loads(o.value) for o in result.outputs]
    assert [p["notes"] for p in published] == list(notes.values())
    for output in result.outputs:
        for word in ("Jürgen", "Schmidt", "nebenan", *person.name.split()):
            assert word.encode() not in output.value
    assert [p["lethe"]["tags"]["notes"] for p in published] == [
        "free_text:derive[contact.phone]", "free_text:derive", "free_text:derive[identity.name]"]


def test_free_text_is_redacted_when_opted_in(catalog: SchemaCatalog, redacting_policy: Policy, traffic: Traffic,
                                             secrets: dict[str, bytes]) -> None:
    person = traffic.people[0]
    first = person.name.split()[0]
    notes = {
        f"Leave with neighbour, call {person.phone}": "Leave with neighbour, call [contact.phone]",
        f"Gift for {first}, invoice to {person.email}": "Gift for [identity.name], invoice to [contact.email]",
        f"Deliver to {person.street} back door": "Deliver to [contact.address] back door",
        f"Hi, {person.name} here, mail {PERSONAL}": "Hi, [identity.name] here, mail [contact.email]",
        "Ring twice please": "Ring twice please",
    }
    orders = []
    for note in notes:
        order = traffic.order(person)
        order["notes"] = note
        orders.append(order)
    result = run(pipeline(catalog, redacting_policy, "orders.v1"), encode_all(orders), secrets)
    published = [orjson.loads(o.value) for o in result.outputs]
    assert [p["notes"] for p in published] == list(notes.values())
    assert [p["lethe"]["tags"]["notes"] for p in published] == [
        "free_text:redact[contact.phone]",
        "free_text:redact[contact.email,identity.name]",
        "free_text:redact[contact.address]",
        "free_text:redact[contact.email,identity.name]",
        "free_text:redact",
    ]


def test_urls_and_click_targets_are_redacted(catalog: SchemaCatalog, default_policy: Policy, traffic: Traffic,
                                             secrets: dict[str, bytes]) -> None:
    person = traffic.people[0]
    log = traffic.log(person)
    log["url"] = f"https://shop.example.com/account?email={person.email.replace('@', '%40')}"
    log["referrer"] = f"https://mail.example.net/?tel={person.phone.replace(' ', '').replace('+', '%2B')}"
    log["click_target"] = f"a[href='mailto:{person.email}']"
    (output,) = run(pipeline(catalog, default_policy, "logs.v1"), encode_all([log]), secrets).outputs
    published = orjson.loads(output.value)
    assert published["url"] == "https://shop.example.com/account?email=[contact.email]"
    assert published["referrer"] == "https://mail.example.net/?tel=[contact.phone]"
    assert published["click_target"] == "a[href='mailto:[contact.email]']"


# --- accounting for a mixed batch ------------------------------------------------------------------

def test_records_in_equal_outputs_plus_dead(catalog: SchemaCatalog, default_policy: Policy, traffic: Traffic,
                                            secrets: dict[str, bytes], single_object: Any) -> None:
    schema: TopicSchema = catalog.for_topic("orders.v1")
    poisoned = traffic.order()
    poisoned["customer"]["email"] = PERSONAL
    poisoned["total_amount"] = PERSONAL
    values: list[bytes | None] = [
        *encode_all([traffic.order() for _ in range(5)]),
        *(raw for _, raw in malformed_records()),
        invalid_enum(traffic),
        None,
        json.dumps(poisoned).encode(),
        single_object(schema, traffic.order()),
        single_object(schema, traffic.order())[:-4],
        single_object(catalog.for_topic("logs.v1"), traffic.log()),
        json.dumps({**traffic.order(), "extra": PERSONAL}).encode(),
    ]
    pipe = pipeline(catalog, default_policy, "orders.v1")
    decoded = pipe.decode(values)
    result = pipe.anonymize(decoded, secrets)
    assert len(result.outputs) + len(result.dead) == len(values)
    out_indexes = {o.index for o in result.outputs}
    dead_indexes = {i for i, _ in result.dead}
    assert out_indexes.isdisjoint(dead_indexes)
    assert out_indexes | dead_indexes == set(range(len(values)))
    assert out_indexes == {0, 1, 2, 3, 4, 16, 19}
    rules = Counter(exc.rule for _, exc in result.dead)
    assert rules == Counter({"json": 2, "type": 3, "required": 1, "utf8": 1, "max_size": 1, "max_depth": 1,
                             "enum": 1, "empty": 1, "avro": 1, "wrong_schema": 1})
    for _, exc in result.dead:
        assert isinstance(exc, InvalidRecord)
        assert "zofia" not in str(exc).lower()
    for output in result.outputs:
        assert b"zofia" not in output.value.lower()


def test_one_unparseable_ip_does_not_fail_the_batch(catalog: SchemaCatalog, default_policy: Policy,
                                                    traffic: Traffic, secrets: dict[str, bytes]) -> None:
    logs = [traffic.log() for _ in range(3)]
    logs[1]["ip"] = "1.2.3.²"   # regression: used to raise ValueError and fail the whole batch
    result = run(pipeline(catalog, default_policy, "logs.v1"), encode_all(logs), secrets)
    assert len(result.outputs) == 3
    assert orjson.loads(result.outputs[1].value)["ip"] is None


def test_decode_collects_the_subjects(catalog: SchemaCatalog, default_policy: Policy, traffic: Traffic) -> None:
    people = traffic.people[:4]
    logs = [traffic.log(p) for p in people] + [traffic.log(people[0], anonymous=True)]
    decoded = pipeline(catalog, default_policy, "logs.v1").decode(encode_all(logs))
    assert set(decoded.subjects) == {p.customer_id for p in people}
    assert len(decoded.records) == 5


def test_missing_secret_is_the_callers_error(catalog: SchemaCatalog, default_policy: Policy,
                                             traffic: Traffic) -> None:
    pipe = pipeline(catalog, default_policy, "orders.v1")
    with pytest.raises(KeyError):
        pipe.anonymize(pipe.decode(encode_all([traffic.order()])), {})


# --- tags ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES)
def test_tags_name_categories_and_strategies(catalog: SchemaCatalog, default_policy: Policy,
                                             results: dict[str, BatchResult], source: str) -> None:
    paths = {f.dotted for f in personal_fields(catalog.for_topic(source).raw)}
    expected_counts: Counter[str] = Counter()
    for output in results[source].outputs:
        lethe = orjson.loads(output.value)["lethe"]
        assert lethe["policy"] == default_policy.version
        tags = lethe["tags"]
        assert tags
        assert set(tags) <= paths
        for tag in tags.values():
            category, _, rest = tag.partition(":")
            strategy, _, found = rest.partition("[")
            assert category in CATEGORIES
            assert strategy in STRATEGIES
            found_categories = found.rstrip("]").split(",") if found else []
            assert set(found_categories) <= set(CATEGORIES)
            expected_counts[category] += 1
            expected_counts.update(found_categories)
    assert results[source].tagged == expected_counts
    assert expected_counts["identifier.customer"] > 0


# --- encodings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES)
def test_avro_output_round_trips_against_the_output_schema(
    catalog: SchemaCatalog, default_policy: Policy, events: dict[str, list[dict[str, Any]]],
    secrets: dict[str, bytes], results: dict[str, BatchResult], schema_dir: Path, source: str,
) -> None:
    output_topic = OUTPUT_OF[source]
    raw_schema = json.loads((schema_dir / f"{output_topic}.avsc").read_text(encoding="utf-8"))
    parsed = parse_schema(raw_schema)
    avro = run(pipeline(catalog, default_policy, source, encoding="avro"), encode_all(events[source]), secrets)
    assert len(avro.outputs) == len(results[source].outputs)
    for binary, text in zip(avro.outputs, results[source].outputs, strict=True):
        assert binary.key == text.key
        assert binary.value[:2] == SINGLE_OBJECT_MAGIC
        assert binary.value[2:10] == catalog.for_topic(output_topic).fingerprint
        body = io.BytesIO(binary.value[10:])
        assert schemaless_reader(body, parsed) == orjson.loads(text.value)
        assert body.tell() == len(binary.value) - 10


@pytest.mark.parametrize("source", SOURCES)
def test_avro_input_gives_the_same_outputs(catalog: SchemaCatalog, default_policy: Policy,
                                           events: dict[str, list[dict[str, Any]]], secrets: dict[str, bytes],
                                           results: dict[str, BatchResult], single_object: Any,
                                           source: str) -> None:
    schema = catalog.for_topic(source)
    values: list[bytes | None] = [single_object(schema, e) for e in events[source][:30]]
    avro_in = run(pipeline(catalog, default_policy, source), values, secrets)
    assert [(o.key, o.value) for o in avro_in.outputs] == [(o.key, o.value) for o in results[source].outputs[:30]]


def test_unknown_output_encoding(catalog: SchemaCatalog, default_policy: Policy) -> None:
    with pytest.raises(SchemaError, match="output encoding"):
        pipeline(catalog, default_policy, "orders.v1", encoding="protobuf")


# --- several outputs of one source -----------------------------------------------------------------

def test_each_output_gets_its_own_copy(catalog: SchemaCatalog, default_policy: Policy, traffic: Traffic,
                                       secrets: dict[str, bytes], default_policy_path: Path) -> None:
    import tomllib
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    data["outputs"]["orders.support.v1"] = {
        "source": "orders.v1", "purpose": "support",
        "categories": {"identity.name": "keep", "contact.email": "mask"},
    }
    policy = parse_policy(data)
    orders = [traffic.order() for _ in range(4)]
    result = run(pipeline(catalog, policy, "orders.v1"), encode_all(copy.deepcopy(orders)), secrets)
    assert len(result.outputs) == 2 * len(orders)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for output in result.outputs:
        by_topic.setdefault(output.topic, []).append(orjson.loads(output.value))
    for order, analytics, support in zip(orders, by_topic["orders.anonymized.v1"], by_topic["orders.support.v1"],
                                         strict=True):
        assert analytics["customer"]["name"] is None
        assert support["customer"]["name"] == order["customer"]["name"]
        assert analytics["customer"]["email"] is None
        assert support["customer"]["email"].endswith(order["customer"]["email"][-4:])
        assert support["customer"]["email"] != order["customer"]["email"]
        assert support["lethe"]["tags"]["customer.name"] == "identity.name:keep"


def test_forget_drops_only_the_cache(catalog: SchemaCatalog, default_policy: Policy, traffic: Traffic,
                                     secrets: dict[str, bytes]) -> None:
    pipe = pipeline(catalog, default_policy, "orders.v1")
    values = encode_all([traffic.order(traffic.people[0])])
    before = run(pipe, values, secrets).outputs
    pipe.forget(secrets[traffic.people[0].customer_id])
    pipe.forget(b"never seen")
    assert [(o.key, o.value) for o in run(pipe, values, secrets).outputs] == [(o.key, o.value) for o in before]
