"""Nested and repeated data (issue 11 item 3): tagging, anonymization and redaction at every level.

The source is tests/tickets.py: records in records, records in arrays in records in arrays, records
as map values, a union of null, string and record, an array of strings with a category, free text
three levels down. It is declared only by its schema file (in a temporary LETHE_SCHEMAS_DIR) and a
policy stanza, as a user would.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
from tickets import AGENT_EMAIL, EMAIL, IP, NAME, PHONE, SECRETS, STANZA, ticket
from tickets import SCHEMA as TICKETS

from processors.derive import derive_anonymized
from processors.pipeline import TopicPipeline
from processors.plan import personal_fields
from processors.policy import Policy, load_policy
from processors.schemas import SchemaCatalog
from processors.sources import check_sources

MASTER = b"m" * 32
SECRET = b"s" * 32


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, default_policy_path: Path) -> tuple[SchemaCatalog, Policy]:
    schemas = tmp_path_factory.mktemp("schemas")
    (schemas / "tickets.v1.avsc").write_text(json.dumps(TICKETS))
    policy_path = schemas.parent / "policy.toml"
    # redaction at depth is what is tested here: opt in to it (the shipped policy derives free text)
    shipped = default_policy_path.read_text()
    assert '"free_text" = "derive"' in shipped
    policy_path.write_text(shipped.replace('"free_text" = "derive"', '"free_text" = "redact"') + STANZA)
    catalog, policy = SchemaCatalog.load(schemas), load_policy(policy_path)
    check_sources(policy, catalog)
    return catalog, policy


def anonymize(setup: tuple[SchemaCatalog, Policy], event: dict[str, Any], encoding: str = "json") -> Any:
    catalog, policy = setup
    pipe = TopicPipeline(catalog, policy, "tickets.v1", MASTER, encoding=encoding)
    decoded = pipe.decode([json.dumps(event).encode()])
    assert not decoded.dead, decoded.dead
    result = pipe.anonymize(decoded, {event["reporter"]["id"]: SECRET})
    [out] = result.outputs
    assert out.topic == "tickets.anonymized.v1"
    return out


def test_every_personal_field_is_found_at_every_depth() -> None:
    assert {info.dotted: info.category for info in personal_fields(TICKETS)} == {
        "reporter.id": "identifier.customer",
        "reporter.name": "identity.name",
        "reporter.contact.email": "contact.email",
        "reporter.contact.phones": "contact.phone",
        "messages[].author": "identity.name",
        "messages[].body": "free_text",
        "messages[].attachments[].uploader_ip": "network.ip",
        "custom{}.value": "free_text",
        "device.agent": "device.info",
        "device.geo.lat": "location.precise",
        "device.geo.lon": "location.precise",
        "assignee.agent_email": "contact.email",
        "session": "identifier.session",
    }


Check = Callable[[Any], bool]
CASES: list[tuple[str, Callable[[dict[str, Any]], Any], Check]] = [
    # id, where in the output, what must hold there
    ("pseudonym-nested", lambda r: r["reporter"]["id"], lambda v: isinstance(v, str) and v != "cust-4711"),
    ("drop-nested", lambda r: r["reporter"]["name"], lambda v: v is None),
    ("drop-two-deep", lambda r: r["reporter"]["contact"]["email"], lambda v: v is None),
    ("drop-array-of-strings", lambda r: r["reporter"]["contact"]["phones"], lambda v: v is None),
    ("drop-in-array", lambda r: [m["author"] for m in r["messages"]], lambda v: v == [None, None]),
    ("redact-in-array", lambda r: r["messages"][0]["body"],
     lambda v: NAME not in v and EMAIL not in v and PHONE not in v and "[contact.email]" in v),
    ("free-text-without-data", lambda r: r["messages"][1]["body"], lambda v: v == "No personal data here."),
    ("generalize-in-array-in-array", lambda r: [a["uploader_ip"] for a in r["messages"][0]["attachments"]],
     lambda v: v == ["198.51.100.0", None]),
    ("untagged-sibling-kept", lambda r: [a["filename"] for a in r["messages"][0]["attachments"]],
     lambda v: v == ["receipt.pdf", "photo.jpg"]),
    ("redact-in-map", lambda r: r["custom"]["callback"]["value"], lambda v: PHONE not in v and "after six" in v),
    ("map-null-stays-null", lambda r: r["custom"]["plan"]["value"], lambda v: v is None),
    ("map-untagged-kept", lambda r: r["custom"]["callback"]["label"], lambda v: v == "Call back on"),
    ("keep-in-union", lambda r: r["device"]["agent"], lambda v: v.startswith("Mozilla/5.0")),
    ("generalize-union-in-union", lambda r: (r["device"]["geo"]["lat"], r["device"]["geo"]["lon"]),
     lambda v: v == (51.5, -0.1)),
    ("drop-in-record-branch", lambda r: r["assignee"], lambda v: v == {"team": "billing", "agent_email": None}),
    ("pseudonym-top-level", lambda r: r["session"], lambda v: isinstance(v, str) and v != "sess-9f2c"),
    ("untouched", lambda r: (r["ticket_id"], r["status"], r["opened_at"]),
     lambda v: v == ("T-1", "opened", "2026-11-18T08:26:40Z")),
]


@pytest.mark.parametrize(("where", "check"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_each_level_is_anonymized(setup: tuple[SchemaCatalog, Policy], where: Callable[[dict[str, Any]], Any],
                                  check: Check) -> None:
    record = json.loads(anonymize(setup, ticket()).value)
    assert check(where(record)), where(record)


def test_tags_name_each_path_once_with_what_was_found(setup: tuple[SchemaCatalog, Policy]) -> None:
    tags = json.loads(anonymize(setup, ticket()).value)["lethe"]["tags"]
    assert tags["messages[].author"] == "identity.name:drop"
    assert tags["messages[].attachments[].uploader_ip"] == "network.ip:generalize"
    assert tags["custom{}.value"] == "free_text:redact[contact.phone]"
    assert tags["messages[].body"].startswith("free_text:redact[") and "contact.email" in tags["messages[].body"]
    assert tags["assignee.agent_email"] == "contact.email:drop"
    assert tags["reporter.contact.phones"] == "contact.phone:drop"


@pytest.mark.parametrize("encoding", ["json", "avro"])
def test_no_personal_value_survives_in_either_encoding(setup: tuple[SchemaCatalog, Policy], encoding: str) -> None:
    out = anonymize(setup, ticket(), encoding)
    text = out.value.decode("utf-8", "replace")
    assert [s for s in SECRETS if s in text] == []
    assert b"cust-4711" not in out.key and b"cust-4711" not in out.value


def test_avro_output_is_read_with_the_derived_schema(setup: tuple[SchemaCatalog, Policy]) -> None:
    out = anonymize(setup, ticket(), "avro")
    derived = fastavro.parse_schema(derive_anonymized(TICKETS, "tickets.anonymized.v1"))
    record = fastavro.schemaless_reader(io.BytesIO(out.value[10:]), derived, derived)
    assert record["messages"][0]["attachments"][0]["uploader_ip"] == "198.51.100.0"
    assert record["assignee"] == {"team": "billing", "agent_email": None}


@pytest.mark.parametrize(("change", "where", "expected"), [
    ({"assignee": "team-lead"}, lambda r: r["assignee"], "team-lead"),     # the string branch: nothing to do
    ({"assignee": None}, lambda r: r["assignee"], None),
    ({"messages": []}, lambda r: r["messages"], []),
    ({"custom": {}}, lambda r: r["custom"], {}),
    ({"device": None}, lambda r: r["device"], None),
    ({"device": {"agent": None, "geo": None}}, lambda r: r["device"], {"agent": None, "geo": None}),
], ids=["union-string-branch", "union-null", "empty-array", "empty-map", "null-record", "null-inside"])
def test_absent_and_other_branches_pass(setup: tuple[SchemaCatalog, Policy], change: dict[str, Any],
                                        where: Callable[[dict[str, Any]], Any], expected: Any) -> None:
    record = json.loads(anonymize(setup, ticket(**change)).value)
    assert where(record) == expected
    assert record["reporter"]["name"] is None   # the rest is still anonymized


def test_other_personal_values_of_the_record_are_redacted_inside_nested_free_text(
        setup: tuple[SchemaCatalog, Policy]) -> None:
    """Values from anywhere in the record (the agent's e-mail inside a union) are found in text at depth."""
    event = ticket()
    event["messages"][1]["body"] = f"forwarded to {AGENT_EMAIL} from {IP}"
    body = json.loads(anonymize(setup, event).value)["messages"][1]["body"]
    assert AGENT_EMAIL not in body and IP not in body
