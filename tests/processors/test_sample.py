"""Synthetic traffic: deterministic, valid against the input schemas; malformed records fail as labelled."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from processors.decode import Decoder
from processors.errors import InvalidRecord
from processors.minors import under_age
from processors.sample import Traffic, invalid_enum, load_example, malformed_records
from processors.schemas import SchemaCatalog

RULE_OF = {
    "truncated JSON": "json",
    "wrong type": "type",
    "missing fields": "required",
    "non-UTF-8 bytes": "utf8",
    "5 MB string": "max_size",
    "nesting 10,000 deep": "max_depth",
    "not an object": "type",
    "empty value": "json",
}


MALFORMED = malformed_records()


@pytest.fixture(scope="module")
def decoders(catalog: SchemaCatalog) -> dict[str, Decoder]:
    return {topic: Decoder(catalog.for_topic(topic), catalog.by_fingerprint.get) for topic in ("orders.v1", "logs.v1")}


def test_load_example(examples_dir: Path) -> None:
    assert load_example("orders.v1", examples_dir)["customer_id"] == "cust-8841"


def test_same_seed_same_traffic(examples_dir: Path) -> None:
    one, two = Traffic(examples_dir, subjects=10, seed=3), Traffic(examples_dir, subjects=10, seed=3)
    assert one.people == two.people
    assert list(one.stream(50)) == list(two.stream(50))


def test_other_seed_other_traffic(examples_dir: Path) -> None:
    one, two = Traffic(examples_dir, subjects=10, seed=3), Traffic(examples_dir, subjects=10, seed=4)
    assert one.people != two.people
    assert list(one.stream(20)) != list(two.stream(20))


def test_people_are_distinct(examples_dir: Path) -> None:
    people = Traffic(examples_dir, subjects=300).people
    assert len(people) == 300
    assert len({p.customer_id for p in people}) == 300
    assert len({p.email for p in people}) == 300
    assert all(p.email.endswith("@mail.example") and p.email == p.email.lower() for p in people)
    assert all(p.customer_id.startswith("cust-") for p in people)


def test_order_belongs_to_the_person(examples_dir: Path) -> None:
    traffic = Traffic(examples_dir, subjects=5)
    person = traffic.people[2]
    order = traffic.order(person)
    assert order["customer_id"] == person.customer_id
    assert order["customer"] == {"name": person.name, "email": person.email, "phone": person.phone,
                                 "date_of_birth": person.date_of_birth}
    assert order["shipping_address"]["street"] == person.street
    assert order["shipping_address"]["postcode"] == person.postcode


@pytest.mark.parametrize("anonymous", [False, True])
def test_log_belongs_to_the_person(examples_dir: Path, anonymous: bool) -> None:
    traffic = Traffic(examples_dir, subjects=5)
    person = traffic.people[1]
    log = traffic.log(person, anonymous=anonymous)
    assert log["customer_id"] == (None if anonymous else person.customer_id)
    assert log["ip"] == person.ip
    assert log["geo"]["city"] == person.city


def test_templates_are_not_mutated(examples_dir: Path) -> None:
    traffic = Traffic(examples_dir, subjects=5)
    before = json.dumps([traffic.order_template, traffic.log_template])
    for _ in range(10):
        traffic.order()["customer"]["name"] = "changed"
        traffic.log()["geo"]["city"] = "changed"
    assert json.dumps([traffic.order_template, traffic.log_template]) == before


@pytest.mark.parametrize(("log_share", "expected"), [(0.0, {"orders.v1"}), (1.0, {"logs.v1"}),
                                                     (0.5, {"orders.v1", "logs.v1"})])
def test_stream_mix(examples_dir: Path, log_share: float, expected: set[str]) -> None:
    topics = Counter(topic for topic, _ in Traffic(examples_dir, subjects=5).stream(200, log_share))
    assert sum(topics.values()) == 200
    assert set(topics) == expected


def test_every_event_is_valid(examples_dir: Path, decoders: dict[str, Decoder]) -> None:
    traffic = Traffic(examples_dir, subjects=50)
    anonymous = 0
    for topic, event in traffic.stream(500):
        assert decoders[topic].decode(json.dumps(event).encode()) == event
        anonymous += topic == "logs.v1" and event["customer_id"] is None
    assert anonymous > 0


def test_malformed_records_cover_every_label() -> None:
    assert [label for label, _ in MALFORMED] == list(RULE_OF)


@pytest.mark.parametrize(("label", "raw"), MALFORMED, ids=[label for label, _ in MALFORMED])
def test_malformed_record_fails_as_labelled(decoders: dict[str, Decoder], label: str, raw: bytes) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoders["orders.v1"].decode(raw)
    assert caught.value.rule == RULE_OF[label]


def test_invalid_enum(examples_dir: Path, decoders: dict[str, Decoder]) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoders["orders.v1"].decode(invalid_enum(Traffic(examples_dir, subjects=5)))
    assert (caught.value.rule, caught.value.path) == ("enum", "event_type")


def test_most_customers_give_an_adult_date_of_birth(examples_dir: Path) -> None:
    """The sample traffic never trips the minors rule (a demo erases nobody by surprise)."""
    traffic = Traffic(examples_dir, subjects=200)
    born = [p.date_of_birth for p in traffic.people if p.date_of_birth is not None]
    assert 0.6 < len(born) / len(traffic.people) < 0.9
    assert not any(under_age(order["customer"]["date_of_birth"], order["occurred_at"], 25)
                   for order in (traffic.order(p) for p in traffic.people))
    assert [p.date_of_birth for p in Traffic(examples_dir, subjects=200).people] == [p.date_of_birth
                                                                                   for p in traffic.people]
