"""Sources in the policy (issue 11 item 1): each bad declaration stops start-up naming source, path and rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tickets import SCHEMA as TICKETS
from tickets import STANZA

from processors.errors import PolicyError
from processors.policy import load_policy
from processors.retention.timers import RetentionPlan
from processors.schemas import SchemaCatalog
from processors.sources import SHIPPED, check_sources, family_of
from processors.time import parse_time

Schema = dict[str, Any]


def field(schema: Schema, *path: str) -> dict[str, Any]:
    """The field at ``path`` of the tickets schema (through records, nullable or not)."""
    record: Any = schema
    found: dict[str, Any] = {}
    for name in path:
        found = next(f for f in record["fields"] if f["name"] == name)
        branches = found["type"] if isinstance(found["type"], list) else [found["type"]]
        record = next((b for b in branches if isinstance(b, dict) and b.get("type") == "record"), None)
    return found


def load(tmp_path: Path, default_policy_path: Path, stanza: str = STANZA, schema: Schema = TICKETS,
         edit: Callable[[str], str] = lambda text: text) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir(exist_ok=True)
    (schemas / "tickets.v1.avsc").write_text(json.dumps(schema))
    policy = tmp_path / "policy.toml"
    policy.write_text(edit(default_policy_path.read_text() + stanza))
    check_sources(load_policy(policy), SchemaCatalog.load(schemas))


def stanza(old: str, new: str) -> str:
    assert old in STANZA
    return STANZA.replace(old, new)


def uncategorised(found: dict[str, Any], **attributes: Any) -> None:
    """The field loses its category and gains ``attributes``."""
    found.pop("category")
    found.update(attributes)


def schema_with(edit: Callable[[Schema], None]) -> Schema:
    schema = copy.deepcopy(TICKETS)
    edit(schema)
    return schema


def test_the_tickets_source_is_accepted(tmp_path: Path, default_policy_path: Path) -> None:
    load(tmp_path, default_policy_path)


# id, stanza, schema, fragments the message must hold (source or output, path, rule)
BAD: list[tuple[str, str, Schema, tuple[str, ...]]] = [
    ("no-kind", stanza('kind = "records"\n', ""), TICKETS, ('sources."tickets.v1".kind', "records")),
    ("bad-kind", stanza('kind = "records"', 'kind = "rows"'), TICKETS, ('sources."tickets.v1".kind', "'rows'")),
    ("path-not-dotted", stanza('subject = "reporter.id"', 'subject = "reporter/id"'), TICKETS,
     ('sources."tickets.v1".subject', "reporter/id", "dotted path")),
    ("records-without-subject", stanza('subject = "reporter.id"\n', ""), TICKETS,
     ('sources."tickets.v1".subject = None', "dotted path")),
    ("status-on-events", stanza('kind = "records"', 'kind = "events"'), TICKETS,
     ('sources."tickets.v1".status', "kind = 'records' only")),
    ("unknown-key", stanza('kind = "records"', 'kind = "records"\nkey = "x"'), TICKETS,
     ('sources."tickets.v1"', "unknown key(s) key")),
    ("schema-not-avsc", stanza('schema = "tickets.v1.avsc"', 'schema = "../tickets.json"'), TICKETS,
     ('sources."tickets.v1".schema', ".avsc file name")),
    ("schema-missing", stanza('schema = "tickets.v1.avsc"', 'schema = "tickets.v9.avsc"'), TICKETS,
     ('sources."tickets.v1".schema', "tickets.v9.avsc", "rule:")),
    ("subject-not-in-schema", stanza('subject = "reporter.id"', 'subject = "reporter.uid"'), TICKETS,
     ('sources."tickets.v1".subject', "reporter.uid", "not a field of tickets.v1.avsc", "rule:")),
    ("record-id-through-array", stanza('record_id = "ticket_id"', 'record_id = "messages.body"'), TICKETS,
     ('sources."tickets.v1".record_id', "messages.body", "rule:", "through records only")),
    ("event-time-not-a-string", stanza('event_time = "opened_at"', 'event_time = "device.geo.lat"'), TICKETS,
     ('sources."tickets.v1".event_time', "device.geo.lat", "not a string", "rule:")),
    ("status-not-enum-or-string", stanza('status = "status"', 'status = "messages"'), TICKETS,
     ('sources."tickets.v1".status', "messages", "rule:")),
    ("nullable-subject-for-records", stanza('subject = "reporter.id"', 'subject = "session"'), TICKETS,
     ('sources."tickets.v1".subject', "session", "may be null", "only events may lack a subject")),
    ("nullable-record-id", stanza('record_id = "ticket_id"', 'record_id = "reporter.name"'), TICKETS,
     ('sources."tickets.v1".record_id', "reporter.name", "may be null", "rule:")),
    ("subject-without-category", STANZA, schema_with(lambda s: field(s, "reporter", "id").pop("category")),
     ('sources."tickets.v1".subject', "reporter.id", "no category", "rule:")),
    ("free-text-without-category", STANZA,
     schema_with(lambda s: field(s, "messages").__setitem__("type", {"type": "array", "items": {
         "type": "record", "name": "M", "fields": [{"name": "body", "type": "string", "scan": True}]}})),
     ('sources."tickets.v1"', "messages[].body", "scan: true but no category", "rule:")),
    ("ip-without-category", STANZA, schema_with(lambda s: uncategorised(field(s, "session"), format="ip")),
     ('sources."tickets.v1"', "session", "format 'ip' but no category", "rule:")),
    ("unknown-category", STANZA, schema_with(lambda s: field(s, "session").update(category="identifier.shoe")),
     ('sources."tickets.v1"', "session", "identifier.shoe", "rule:")),
    ("session-not-in-schema", stanza('kind = "records"', 'kind = "records"\nsession = "visit"'), TICKETS,
     ('sources."tickets.v1".session', "visit", "not a field of tickets.v1.avsc", "rule:")),
    ("session-not-a-string", stanza('kind = "records"', 'kind = "records"\nsession = "messages"'), TICKETS,
     ('sources."tickets.v1".session', "messages", "not a string", "rule:")),
    ("session-without-category", stanza('kind = "records"', 'kind = "records"\nsession = "session"'),
     schema_with(lambda s: field(s, "session").pop("category")),
     ('sources."tickets.v1".session', "no category", "identifier.session", "rule:")),
    ("order-event-value-not-a-status", stanza('on = ["closed"]', 'on = ["archived"]'), TICKETS,
     ('retention."tickets-closed".on', "archived", "tickets.v1", "rule:")),
    ("output-of-undeclared-source", stanza('source = "tickets.v1"\npurpose', 'source = "tickets.v2"\npurpose'),
     TICKETS, ('outputs."tickets.anonymized.v1".source', "tickets.v2", "not a declared source")),
    ("retention-of-undeclared-source", stanza('source = "tickets.v1"\ntrigger', 'source = "tickets.v2"\ntrigger'),
     TICKETS, ('retention."tickets-closed".source', "tickets.v2", "not a declared source")),
]


@pytest.mark.parametrize(("text", "schema", "fragments"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_declaration_is_named(tmp_path: Path, default_policy_path: Path, text: str, schema: Schema,
                                    fragments: tuple[str, ...]) -> None:
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, default_policy_path, text, schema)
    message = str(caught.value)
    assert [f for f in fragments if f not in message] == [], message
    assert "policy.toml" in message


def test_an_output_without_a_strategy_for_a_carried_category_is_named(tmp_path: Path,
                                                                      default_policy_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, default_policy_path, edit=lambda text: text.replace('"network.ip" = "generalize"\n', "")
             + '[outputs."logs.anonymized.v1".categories]\n"network.ip" = "generalize"\n')
    message = str(caught.value)
    for fragment in ('outputs."tickets.anonymized.v1"', "network.ip", "source tickets.v1",
                     "messages[].attachments[].uploader_ip", "rule:"):
        assert fragment in message


def test_the_shipped_sources_are_declared_in_the_default_policy(default_policy_path: Path) -> None:
    policy = load_policy(default_policy_path)
    assert policy.sources == SHIPPED
    assert policy.families == ("orders", "logs") == policy.rights.families
    assert {r.source for r in policy.retention.values()} == {"orders.v1", "logs.v1"}


def test_a_session_path_is_optional_and_may_be_null(tmp_path: Path, default_policy_path: Path) -> None:
    load(tmp_path, default_policy_path, stanza('kind = "records"', 'kind = "records"\nsession = "session"'))
    assert SHIPPED["logs.v1"].session == ("session_id",)
    assert SHIPPED["orders.v1"].session is None
    text = default_policy_path.read_text().replace('session = "session_id"', "")
    (tmp_path / "nosession.toml").write_text(text)
    assert load_policy(tmp_path / "nosession.toml").sources["logs.v1"].session is None


def test_a_policy_without_sources_gets_the_shipped_ones(tmp_path: Path, default_policy_path: Path) -> None:
    text = default_policy_path.read_text()
    head, rest = text.split('[sources."orders.v1"]', 1)
    path = tmp_path / "old.toml"
    path.write_text(head + rest[rest.index("[outputs."):])
    assert load_policy(path).sources == SHIPPED


@pytest.mark.parametrize(("topic", "family"), [("orders.v1", "orders"), ("tickets.v12", "tickets"),
                                                ("Shop.Returns", "shop.returns")])
def test_the_family_is_the_topic_without_its_version(topic: str, family: str) -> None:
    assert family_of(topic) == family


def test_retention_reads_the_declared_paths(tmp_path: Path, default_policy_path: Path) -> None:
    from tickets import ticket

    path = tmp_path / "policy.toml"
    path.write_text(default_policy_path.read_text() + STANZA)
    policy = load_policy(path)
    plan = RetentionPlan(policy.retention, policy.sources)
    assert plan.timers_for("tickets.v1", ticket()) == []   # opened: no rule on it
    [timer] = plan.timers_for("tickets.v1", ticket(status="closed"))
    assert (timer.timer_id, timer.family, timer.subject, timer.record_key) == (
        "tickets-closed/T-1", "tickets", "cust-4711", "T-1")
    assert timer.order_id == "T-1"    # a records source: a hold on one record matches it
    assert timer.due == parse_time("2026-11-18T08:26:40Z") + 30 * 86_400


def test_an_events_source_may_have_no_subject(tmp_path: Path, default_policy_path: Path) -> None:
    """Anonymous telemetry: no subject, no secrets or gates; its records still get deadlines."""
    text = stanza('kind = "records"', 'kind = "events"').replace('subject = "reporter.id"\n', "")
    text = text.replace('status = "status"\n', "").replace('trigger = "order_event"\non = ["closed"]',
                                                           'trigger = "event_time"')
    load(tmp_path, default_policy_path, text)
    policy = load_policy(tmp_path / "policy.toml")
    assert policy.sources["tickets.v1"].subject is None
    from tickets import ticket

    [timer] = RetentionPlan(policy.retention, policy.sources).timers_for("tickets.v1", ticket())
    assert (timer.subject, timer.record_key, timer.order_id) == ("", "T-1", None)


def discovered_ticket(n: int) -> dict[str, Any]:
    return {"ticket_id": f"T-{n:05d}", "opened_at": f"2026-11-{n % 28 + 1:02d}T08:00:00Z",
            "customer_id": f"cust-{n % 40:04d}", "status": ["open", "closed"][n % 2],
            "customer": {"name": ["Lena Berg", "Jonas Vogel", "Ana Ruiz"][n % 3], "email": f"person{n}@mail.example"},
            "messages": [{"author": ["Lena Berg", "Support"][n % 2],
                          "text": f"Please call me on +49 170 555 {n:04d}, my parcel {n} never arrived"}],
            "ip": f"203.0.113.{n % 250 + 1}"}


def test_a_discovered_source_works_as_written(tmp_path: Path, default_policy_path: Path) -> None:
    """lethe discover's schema and stanza, pasted as they are, pass the start-up checks and leak nothing."""
    from processors.discover.propose import discover
    from processors.discover.schema import build_schema
    from processors.discover.stanza import policy_text
    from processors.pipeline import TopicPipeline

    records = [discovered_ticket(n) for n in range(120)]
    result = discover(records, "helpdesk.v1")
    schema = build_schema(result)
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "helpdesk.v1.avsc").write_text(json.dumps(schema))
    import tomllib

    defaults = tomllib.loads(default_policy_path.read_text())["categories"]
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(default_policy_path.read_text() + "\n"
                           + policy_text(result, schema, "helpdesk.v1.avsc", defaults))
    policy, catalog = load_policy(policy_path), SchemaCatalog.load(schemas)
    check_sources(policy, catalog)
    pipe = TopicPipeline(catalog, policy, "helpdesk.v1", b"k" * 32)
    decoded = pipe.decode([json.dumps(r).encode() for r in records])
    assert decoded.dead == []
    result_batch = pipe.anonymize(decoded, dict.fromkeys(decoded.subjects, b"s" * 32))
    assert len(result_batch.outputs) == len(records)
    text = b"\n".join(out.value + (out.key or b"") for out in result_batch.outputs).decode()
    leaks = [v for r in records for v in (r["customer"]["email"], r["customer"]["name"], r["customer_id"], r["ip"])
             if v in text]
    assert leaks == []
    assert "555 00" not in text   # the phone numbers inside the free text
