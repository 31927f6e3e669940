"""A new source with nothing but a schema file and a policy stanza (issue 11): end to end on a real worker.

The worker (on a fake clock, tests/clockworker.py) gets LETHE_SCHEMAS_DIR = a temporary directory
holding only tests/tickets.py's schema, and LETHE_POLICY = the default policy plus the tickets stanza.
Its tickets are anonymized on the derived output (JSON and Avro), held back by a consent refusal,
retained (a closed ticket's deadline fires a delete command; a store agent mapping a `tickets`
table by `source = "tickets.v1"` deletes that row) and erased (an erase request reaches the store
agent, which deletes the subject's other tickets), like orders.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from sqlalchemy import create_engine, text
from support import FakeClock, Service, Worker, unique_prefix, wait_for
from tickets import SCHEMA, SECRETS, STANZA, ticket

from processors.derive import derive_anonymized
from processors.time import parse_time
from streams.broker import EmbeddedBroker
from streams.client import Record, publish, read

pytestmark = pytest.mark.integration

OPENED = "2026-11-18T08:26:40Z"
START = parse_time(OPENED) + 60
DAY = 86_400.0


@pytest.fixture(params=["json", "avro"])
def stack(request: pytest.FixtureRequest, broker: EmbeddedBroker, tmp_path: Path,
          default_policy_path: Path) -> Iterator[tuple[Worker, FakeClock, str]]:
    schemas = tmp_path / "my-schemas"
    schemas.mkdir()
    (schemas / "tickets.v1.avsc").write_text(json.dumps(SCHEMA, indent=2))
    policy = tmp_path / "policy.toml"
    policy.write_text(default_policy_path.read_text() + STANZA)
    clock = FakeClock(tmp_path / "clock", START)
    worker = Worker(broker.bootstrap, unique_prefix("tickets"), tmp_path, clock, LETHE_POLICY=str(policy),
                    LETHE_SCHEMAS_DIR=str(schemas), LETHE_OUTPUT_ENCODING=request.param).start()
    try:
        yield worker, clock, request.param
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def default_policy_path() -> Path:
    from support import REPO

    return REPO / "deploy" / "policy.toml"


def values(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"{}") for r in records]


def test_a_new_source_is_anonymized_gated_retained_and_erased(broker: EmbeddedBroker,
                                                              stack: tuple[Worker, FakeClock, str]) -> None:
    worker, clock, encoding = stack
    prefix, bootstrap = worker.prefix, broker.bootstrap
    # the user's own store: a tickets table, mapped to the source, with rows a sink of theirs wrote
    data = Path(worker.env["LETHE_DATA_DIR"])
    store_url = f"sqlite:///{data / 'helpdesk.db'}"
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tickets (ticket_id TEXT PRIMARY KEY, reporter_id TEXT, email TEXT)"))
        conn.execute(text("INSERT INTO tickets VALUES ('T-1', 'cust-4711', 'a@example.net'), "
                          "('T-2', 'cust-4711', 'a@example.net'), ('T-9', 'cust-9', 'b@example.net')"))
    mapping = data / "helpdesk-mapping.toml"
    mapping.write_text('store = "shop-db"\n[tables.tickets]\nsource = "tickets.v1"\nsubject_column = "reporter_id"\n'
                       'key_column = "ticket_id"\n[tables.tickets.columns]\nemail = "contact.email"\n')
    agent = Service("store-agent", {**worker.env, "LETHE_STORE_URL": store_url, "LETHE_METRICS_PORT": "0"},
                    data / "agent.log", "--mapping", str(mapping))

    def rows() -> set[str]:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT ticket_id FROM tickets"))}

    def send(topic: str, key: str, event: dict[str, Any]) -> None:
        publish(bootstrap, [(prefix + topic, key.encode(), json.dumps(event).encode())])

    # a subject who refused analytics: the tickets output requires it (consent = ["analytics"])
    send("consent.v1", "cust-9", {"event_id": "c-1", "occurred_at": OPENED, "customer_id": "cust-9",
                                  "purpose": "analytics", "granted": False, "policy_version": "2026-11-01",
                                  "source": "api"})
    wait_for(lambda: worker.metric("lethe_consent_decisions_total") == 1, 60, "the consent refusal")
    send("tickets.v1", "cust-9", ticket(ticket_id="T-9", reporter={"id": "cust-9", "name": "Ida Refuser",
                                                                   "contact": None}))
    send("tickets.v1", "cust-4711", ticket())
    send("tickets.v1", "cust-4711", ticket(status="closed"))
    send("tickets.v1", "cust-4711", {"ticket_id": "T-bad"})   # not the schema: dead-lettered

    out = list(read(bootstrap, [prefix + "tickets.anonymized.v1"], expect=2, timeout=90))
    assert len(out) == 2
    wait_for(lambda: worker.metric("lethe_records_gated_total", reason="consent_refused.analytics") == 1, 60,
             "the gated ticket")
    assert len(list(read(bootstrap, [prefix + "dlq.v1"], expect=1, timeout=60))) == 1
    if encoding == "avro":
        derived = fastavro.parse_schema(derive_anonymized(SCHEMA, "tickets.anonymized.v1"))
        records = [fastavro.schemaless_reader(io.BytesIO((r.value or b"")[10:]), derived, derived) for r in out]
    else:
        records = values(out)
    assert sorted(r["status"] for r in records) == ["closed", "opened"]
    assert {r["ticket_id"] for r in records} == {"T-1"}
    assert all(r["reporter"]["name"] is None and r["messages"][0]["author"] is None for r in records)
    assert all(r["messages"][0]["attachments"][0]["uploader_ip"] == "198.51.100.0" for r in records)
    raw = b"".join((r.value or b"") + (r.key or b"") for r in out).decode("utf-8", "replace")
    assert [s for s in (*SECRETS, "cust-4711", "cust-9", "Ida Refuser") if s in raw] == []

    try:
        retained_and_erased(worker, clock, bootstrap, send, rows)
    finally:
        agent.stop()
        engine.dispose()


def retained_and_erased(worker: Worker, clock: FakeClock, bootstrap: str, send: Callable[[str, str, Any], None],
                        rows: Callable[[], set[str]]) -> None:
    prefix = worker.prefix
    # retained: the closed ticket's deadline (30 days) fires a delete for that one ticket
    wait_for(lambda: worker.metric("lethe_retention_timers_scheduled_total") >= 1, 60, "the ticket's deadline")
    clock.set(START + 29 * DAY)
    clock.set(START + 31 * DAY)
    wait_for(lambda: worker.metric("lethe_retention_timers_fired_total") == 1, 60, "the deadline to fire")
    [command] = values(list(read(bootstrap, [prefix + "lifecycle.commands.v1"], expect=1, timeout=60)))
    assert (command["action"], command["subject"], command["selector"]) == (
        "delete", "cust-4711", {"family": "tickets", "record_key": "T-1"})
    assert command["rule"] == "tickets-closed"
    wait_for(lambda: rows() == {"T-2", "T-9"}, 60, "the store agent to delete the expired ticket")

    # erased: an erase request reaches the tickets family like orders and logs
    send("privacy-requests.v1", "cust-4711", {"request_id": "req-t-1", "occurred_at": OPENED,
                                              "customer_id": "cust-4711", "type": "erase", "details": {},
                                              "channel": "api"})
    commands = values(list(read(bootstrap, [prefix + "lifecycle.commands.v1"], expect=4, timeout=60)))
    erase = {c["selector"]["family"]: c for c in commands if c["cause"] == "request"}
    assert set(erase) == {"orders", "logs", "tickets"}
    assert erase["tickets"]["action"] == "delete" and erase["tickets"]["selector"]["record_key"] is None
    assert erase["tickets"]["subject"] == "cust-4711"
    wait_for(lambda: rows() == {"T-9"}, 60, "the store agent to erase the subject's tickets")
    wait_for(lambda: worker.metric("lethe_lifecycle_acks_total", status="applied") == 2
             and worker.metric("lethe_lifecycle_acks_total", status="not_found") == 2
             and worker.metric("lethe_requests_open") == 0, 60, "the erasure to complete (every family acked)")
