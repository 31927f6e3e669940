"""The five non-source decoders (processors/inputs.py): JSON and Avro single-object alike, the
validator's rules for what the schema says, a domain rule for what it cannot, never a value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from processors.consent import ConsentEvent
from processors.errors import InvalidRecord
from processors.inputs import TOPICS, Inputs
from processors.records import lifecycle_ack, lifecycle_command
from processors.retention.holds import Hold
from processors.rights import Request
from processors.schemas import SchemaCatalog, TopicSchema

SingleObject = Callable[[TopicSchema, dict[str, Any]], bytes]   # the `single_object` fixture of conftest.py

SECRET = "cust-SECRET-77"
NOW = 1_795_253_400.0   # 2026-11-21T09:30:00Z

CONSENT = {"event_id": "ev-1", "occurred_at": "2026-11-20T13:58:41Z", "customer_id": SECRET,
           "purpose": "marketing", "granted": False, "policy_version": "2026-11-01", "source": "api"}
HOLD = {"hold_id": "hold-1", "action": "place", "occurred_at": "2026-11-21T09:30:00Z", "customer_id": SECRET,
        "order_id": None, "case_ref": "LIT-2026-17"}
REQUEST = {"request_id": "req-1", "occurred_at": "2026-11-21T09:15:00+01:00", "customer_id": SECRET,
           "type": "rectify", "details": {"contact.email": "secret@example.com"}, "channel": "api"}
COMMAND = lifecycle_command("cmd-1", "update", SECRET, "orders", None, issued_at=NOW, due_at=NOW + 60,
                            rule="req-1", cause="request", updates={"contact.email": "secret@example.com"})
ACK = lifecycle_ack("cmd-1", "shop-db", "applied", 2, NOW)

# topic -> (the Inputs method, a valid record, what it decodes to)
VALID: dict[str, tuple[str, dict[str, Any], Any]] = {
    "consent.v1": ("consent", CONSENT, ConsentEvent("ev-1", "2026-11-20T13:58:41Z", SECRET, "marketing", False,
                                                    "2026-11-01", "api")),
    "legal-holds.v1": ("hold", HOLD, Hold("hold-1", "place", SECRET, None, "LIT-2026-17", "2026-11-21T09:30:00Z")),
    "privacy-requests.v1": ("request", REQUEST, Request("req-1", "rectify", SECRET, "2026-11-21T09:15:00+01:00",
                                                        "api", {"contact.email": "secret@example.com"})),
    "lifecycle.commands.v1": ("command", COMMAND, COMMAND),
    "lifecycle.acks.v1": ("ack", ACK, ACK),
}


@pytest.fixture(scope="module")
def inputs(catalog: SchemaCatalog) -> Inputs:
    return Inputs(catalog)


def test_every_topic_has_a_case() -> None:
    assert set(VALID) == set(TOPICS)


@pytest.mark.parametrize("topic", TOPICS)
def test_valid_json_decodes_to_its_value(inputs: Inputs, topic: str) -> None:
    method, record, expected = VALID[topic]
    assert getattr(inputs, method)(orjson.dumps(record)) == expected


@pytest.mark.parametrize("topic", TOPICS)
def test_valid_avro_single_object_decodes_to_the_same_value(inputs: Inputs, catalog: SchemaCatalog,
                                                            single_object: SingleObject, topic: str) -> None:
    method, record, expected = VALID[topic]
    assert getattr(inputs, method)(single_object(catalog.for_topic(topic), record)) == expected


@pytest.mark.parametrize("topic", TOPICS)
def test_unknown_fields_are_dropped(inputs: Inputs, topic: str) -> None:
    method, record, expected = VALID[topic]
    assert getattr(inputs, method)(orjson.dumps({**record, "extra": SECRET})) == expected


def changed(record: dict[str, Any], **changes: Any) -> bytes:
    return orjson.dumps({**record, **changes})


def dropped(record: dict[str, Any], name: str) -> bytes:
    return orjson.dumps({k: v for k, v in record.items() if k != name})


def avro_of(topic: str) -> Callable[[SchemaCatalog, SingleObject], bytes]:
    """A valid record of ``topic`` in Avro, for reading as another topic."""
    return lambda catalog, encode: encode(catalog.for_topic(topic), VALID[topic][1])


MALFORMED: list[tuple[str, Any, str, str]] = [
    # topic, raw value (or a builder of one), rule, field path
    *((topic, raw, rule, "") for topic in TOPICS for raw, rule in (
        (None, "empty"), (b"", "json"), (b"{not json " + SECRET.encode(), "json"),
        (b'{"x": "\xff\xfe' + SECRET.encode() + b'"}', "utf8"), (orjson.dumps([SECRET]), "type"), (b"null", "type"),
        (b"\xc3\x01\x00", "avro"), (b"\xc3\x01" + b"\x00" * 8 + SECRET.encode(), "unknown_fingerprint"))),
    ("consent.v1", dropped(CONSENT, "event_id"), "required", "event_id"),
    ("consent.v1", changed(CONSENT, event_id=""), "min_length", "event_id"),
    ("consent.v1", changed(CONSENT, customer_id=""), "min_length", "customer_id"),
    ("consent.v1", changed(CONSENT, policy_version=""), "min_length", "policy_version"),
    ("consent.v1", changed(CONSENT, purpose=SECRET), "enum", "purpose"),
    ("consent.v1", changed(CONSENT, granted="true"), "type", "granted"),
    ("consent.v1", changed(CONSENT, occurred_at=SECRET), "format.timestamp", "occurred_at"),
    ("consent.v1", changed(CONSENT, occurred_at="2026-11-20T13:58:41+0200"), "format.timestamp", "occurred_at"),
    ("consent.v1", changed(CONSENT, occurred_at="3026-11-20T13:58:41Z"), "format.timestamp", "occurred_at"),
    ("consent.v1", avro_of("legal-holds.v1"), "wrong_schema", ""),
    ("legal-holds.v1", dropped(HOLD, "case_ref"), "required", "case_ref"),
    ("legal-holds.v1", changed(HOLD, hold_id=""), "min_length", "hold_id"),
    ("legal-holds.v1", changed(HOLD, case_ref=""), "min_length", "case_ref"),
    ("legal-holds.v1", changed(HOLD, order_id=""), "min_length", "order_id"),
    ("legal-holds.v1", changed(HOLD, order_id=7_700_777), "type", "order_id"),
    ("legal-holds.v1", changed(HOLD, action="PLACE"), "enum", "action"),
    ("legal-holds.v1", changed(HOLD, occurred_at="1969-12-31T23:59:59Z"), "format.timestamp", "occurred_at"),
    ("legal-holds.v1", avro_of("consent.v1"), "wrong_schema", ""),
    ("privacy-requests.v1", dropped(REQUEST, "channel"), "required", "channel"),
    ("privacy-requests.v1", changed(REQUEST, request_id=""), "min_length", "request_id"),
    ("privacy-requests.v1", changed(REQUEST, request_id=f"{SECRET} x"), "format.identifier", "request_id"),
    ("privacy-requests.v1", changed(REQUEST, customer_id=""), "min_length", "customer_id"),
    ("privacy-requests.v1", changed(REQUEST, type="shred"), "enum", "type"),
    ("privacy-requests.v1", changed(REQUEST, details={SECRET: 7_700_777}), "type", "details[*]"),
    ("privacy-requests.v1", changed(REQUEST, occurred_at="2026-11-21"), "format.timestamp", "occurred_at"),
    ("lifecycle.commands.v1", dropped(COMMAND, "subject"), "required", "subject"),
    ("lifecycle.commands.v1", changed(COMMAND, action="shred"), "enum", "action"),
    ("lifecycle.commands.v1", changed(COMMAND, selector={"family": "consent", "record_key": None}), "enum",
     "selector.family"),
    ("lifecycle.commands.v1", changed(COMMAND, selector={"family": SECRET}), "enum", "selector.family"),
    ("lifecycle.commands.v1", changed(COMMAND, updates={"contact.email": None}), "type", "updates[*]"),
    ("lifecycle.commands.v1", changed(COMMAND, issued_at=SECRET), "format.timestamp", "issued_at"),
    ("lifecycle.acks.v1", dropped(ACK, "rows_affected"), "required", "rows_affected"),
    ("lifecycle.acks.v1", changed(ACK, status="done"), "enum", "status"),
    ("lifecycle.acks.v1", changed(ACK, rows_affected="2"), "type", "rows_affected"),
    ("lifecycle.acks.v1", changed(ACK, acked_at="yesterday"), "format.timestamp", "acked_at"),
    ("lifecycle.acks.v1", avro_of("lifecycle.commands.v1"), "wrong_schema", ""),
]


@pytest.mark.parametrize(("topic", "raw", "rule", "path"), MALFORMED)
def test_malformed_records_are_named_by_rule_and_path_without_their_values(
        inputs: Inputs, catalog: SchemaCatalog, single_object: SingleObject, topic: str, raw: Any, rule: str,
        path: str) -> None:
    value = raw(catalog, single_object) if callable(raw) else raw
    with pytest.raises(InvalidRecord) as error:
        getattr(inputs, VALID[topic][0])(value)
    assert (error.value.rule, error.value.path) == (rule, path)
    for text in (str(error.value), error.value.reason, error.value.path):
        for secret in (SECRET, "7700777", "secret@example.com", "PLACE", "shred", "yesterday"):
            assert secret not in text


def test_a_record_larger_than_the_limit_is_refused(catalog: SchemaCatalog) -> None:
    from processors.decode import Limits

    small = Inputs(catalog, Limits(max_record_bytes=64))
    with pytest.raises(InvalidRecord) as error:
        small.consent(orjson.dumps(CONSENT))
    assert error.value.rule == "max_size"


@pytest.mark.parametrize("family", ["orders", "logs", "tickets", "shop.returns"])
def test_a_command_for_any_source_family_decodes(inputs: Inputs, catalog: SchemaCatalog,
                                                 single_object: SingleObject, family: str) -> None:
    """lifecycle.commands.v1 v3: the family of any declared source, not only the shipped ones (JSON and Avro)."""
    command = {**COMMAND, "selector": {"family": family, "record_key": None}}
    assert inputs.command(orjson.dumps(command))["selector"]["family"] == family
    avro = single_object(catalog.for_topic("lifecycle.commands.v1"), command)
    assert inputs.command(avro)["selector"]["family"] == family
