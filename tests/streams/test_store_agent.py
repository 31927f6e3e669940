"""`lethe store-agent` on the embedded broker and a real SQLite file: commands in, rows changed, acks out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, select
from support import REPO, unique_prefix

from streams.broker import EmbeddedBroker
from streams.client import publish, read
from streams.settings import Settings
from streams.topics import ensure_topics

pytestmark = pytest.mark.integration


def test_store_agent_applies_commands_and_acks_each_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    prefix = unique_prefix("store")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    metadata = MetaData()
    orders = Table("orders", metadata, Column("order_id", String, primary_key=True), Column("customer_id", String),
                   Column("customer_email", String), Column("customer_name", String))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(orders.insert(), [
            {"order_id": "o1", "customer_id": "c1", "customer_email": "a@x.example", "customer_name": "Ann"},
            {"order_id": "o2", "customer_id": "c2", "customer_email": "b@x.example", "customer_name": "Bo"},
        ])
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=prefix,
               LETHE_APP_ID=f"{prefix}lethe", LETHE_STORE_URL=url, LETHE_METRICS_PORT="0",
               LETHE_DATA_DIR=str(tmp_path), LETHE_SESSION_TIMEOUT_S="4")
    ensure_topics(Settings.from_env(env), broker.bootstrap)
    agent = subprocess.Popen([sys.executable, "-m", "streams.cli", "store-agent"], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def command(action: str, subject: str, **extra: object) -> dict[str, object]:
            return {"command_id": uuid.uuid4().hex, "issued_at": "2026-11-24T00:00:00+00:00", "action": action,
                    "subject": subject, "selector": {"family": "orders", "record_key": None},
                    "categories": [], "fields": [], "updates": {}, "rule": "orders-completed",
                    "cause": "retention", "due_at": "2026-11-24T00:00:00+00:00", **extra}
        erase = command("delete", "c1")
        anonymize = command("anonymize", "c2", categories=["contact.email"])
        topic = prefix + "lifecycle.commands.v1"
        publish(broker.bootstrap, [(topic, b"c1", json.dumps(erase).encode()),
                                   (topic, b"c2", json.dumps(anonymize).encode()),
                                   (topic, b"c1", json.dumps(erase).encode()),   # a replay
                                   (topic, b"x", b"{not json"),
                                   (topic, b"x", json.dumps({"command_id": "c-9", "action": "shred"}).encode())])
        acks = [json.loads(r.value or b"{}") for r in read(broker.bootstrap, [prefix + "lifecycle.acks.v1"],
                                                            expect=5, timeout=60)]
    finally:
        agent.send_signal(signal.SIGTERM)
        output, _ = agent.communicate(timeout=30)
    assert agent.returncode == 0, output.decode()[-2000:]
    by_id: dict[str, list[dict[str, object]]] = {}
    for ack in acks:
        by_id.setdefault(str(ack["command_id"]), []).append(ack)
    assert [(a["status"], a["rows_affected"]) for a in by_id[str(erase["command_id"])]] == [("applied", 1)] * 2
    assert [(a["status"], a["rows_affected"]) for a in by_id[str(anonymize["command_id"])]] == [("applied", 1)]
    assert [a["status"] for a in by_id["unreadable"]] == ["failed", "failed"]
    assert all(a["store"] == "shop-db" for a in acks)
    assert all(set(a) == {"command_id", "store", "status", "rows_affected", "acked_at", "error"} for a in acks)
    with engine.connect() as conn:
        left = {r.order_id: r for r in conn.execute(select(orders))}
    assert set(left) == {"o2"} and left["o2"].customer_email is None and left["o2"].customer_name == "Bo"


def test_reference_sink_feeds_the_store_agent(broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path) -> None:
    from processors.sample import Traffic
    from streams.store.sink import logs, orders

    prefix = unique_prefix("sink")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=prefix,
               LETHE_APP_ID=f"{prefix}lethe", LETHE_STORE_URL=url, LETHE_METRICS_PORT="0",
               LETHE_DATA_DIR=str(tmp_path), LETHE_SESSION_TIMEOUT_S="4")
    ensure_topics(Settings.from_env(env), broker.bootstrap)
    traffic = Traffic(examples_dir, subjects=2)
    a, b = traffic.people
    events = [("orders.v1", traffic.order(a)), ("orders.v1", traffic.order(a)), ("orders.v1", traffic.order(b)),
              ("logs.v1", traffic.log(a)), ("logs.v1", traffic.log(b))]
    publish(broker.bootstrap, [(prefix + t, e["customer_id"].encode(), json.dumps(e).encode()) for t, e in events]
            + [(prefix + "orders.v1", b"x", b"{broken")])
    engine = create_engine(url)
    processes = [subprocess.Popen([sys.executable, "-m", "streams.cli", command], env=env, cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for command in ("sink", "store-agent")]
    try:
        deadline = time.monotonic() + 60
        counts = (0, 0)
        while time.monotonic() < deadline and counts != (3, 2):
            time.sleep(0.3)
            try:
                with engine.connect() as conn:
                    counts = (len(conn.execute(select(orders)).all()), len(conn.execute(select(logs)).all()))
            except Exception:   # the sink creates the tables when it starts
                continue
        assert counts == (3, 2)
        erase = {"command_id": uuid.uuid4().hex, "issued_at": "2026-11-24T00:00:00+00:00", "action": "delete",
                 "subject": a.customer_id, "selector": {"family": "orders", "record_key": None},
                 "categories": [], "fields": [], "updates": {}, "rule": "r", "cause": "request",
                 "due_at": "2026-11-24T00:00:00+00:00"}
        scrub = {**erase, "command_id": uuid.uuid4().hex, "action": "anonymize", "subject": b.customer_id,
                 "selector": {"family": "logs", "record_key": None}, "categories": ["network.ip", "location.precise"]}
        publish(broker.bootstrap, [(prefix + "lifecycle.commands.v1", None, json.dumps(c).encode())
                                   for c in (erase, scrub)])
        acks = [json.loads(r.value or b"{}") for r in read(broker.bootstrap, [prefix + "lifecycle.acks.v1"],
                                                            expect=2, timeout=60)]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[0] for process in processes]
    assert all(p.returncode == 0 for p in processes), [o.decode()[-1500:] for o in outputs]
    assert sorted((ack["status"], ack["rows_affected"]) for ack in acks) == [("applied", 1), ("applied", 2)]
    with engine.connect() as conn:
        assert {r.customer_id for r in conn.execute(select(orders))} == {b.customer_id}
        log_row = conn.execute(select(logs).where(logs.c.customer_id == b.customer_id)).one()
    assert log_row.ip is None and log_row.lat is None and log_row.url is not None
