"""A batching `lethe store-agent` on the embedded broker and real SQLite and PostgreSQL databases.

Many commands are applied per transaction and their acks awaited together; what must not change:
a failing command is acked ``failed`` alone and retried before the commands after it, an offset
is committed only once the acks of everything before it are on the broker, and a command replayed
after a SIGKILL is not applied twice (its ack repeats the first result).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Column, MetaData, String, Table, create_engine, func, select
from sqlalchemy.engine import Engine
from support import REPO, unique_prefix, wait_for

from streams.broker import EmbeddedBroker
from streams.client import publish
from streams.kafka import kafka_python_options
from streams.settings import Settings
from streams.store.apply import applied_commands
from streams.topics import admin_client, ensure_topics

pytestmark = pytest.mark.integration


def command(subject: str, family: str = "orders") -> dict[str, Any]:
    return {"command_id": uuid.uuid4().hex, "issued_at": "2026-12-03T00:00:00+00:00", "action": "delete",
            "subject": subject, "selector": {"family": family, "record_key": None}, "categories": [], "fields": [],
            "updates": {}, "rule": "test", "cause": "retention", "due_at": "2026-12-03T00:00:00+00:00"}


class Agent:
    """A store agent process on its own topics, with an ``orders`` table of one row per subject."""

    def __init__(self, bootstrap: str, url: str, tmp_path: Path, subjects: int, **env: str) -> None:
        self.bootstrap = bootstrap
        self.prefix: str = unique_prefix("agentBatch")
        self.engine: Engine = create_engine(url)
        metadata = MetaData()
        self.orders = Table("orders", metadata, Column("order_id", String(32), primary_key=True),
                            Column("customer_id", String(32)))
        metadata.create_all(self.engine)
        if subjects:
            with self.engine.begin() as conn:
                conn.execute(self.orders.insert(), [{"order_id": f"o{i}", "customer_id": f"c{i}"}
                                                    for i in range(subjects)])
        mapping = tmp_path / "mapping.toml"
        mapping.write_text('store = "shop-db"\n[tables.orders]\nfamily = "orders"\nsubject_column = "customer_id"\n'
                           'key_column = "order_id"\n[tables.tickets]\nfamily = "tickets"\n'
                           'subject_column = "customer_id"\n')
        self.env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=bootstrap, LETHE_TOPIC_PREFIX=self.prefix,
                        LETHE_APP_ID=f"{self.prefix}lethe", LETHE_STORE_URL=url, LETHE_METRICS_PORT="0",
                        LETHE_DATA_DIR=str(tmp_path), LETHE_SESSION_TIMEOUT_S="4", **env)
        ensure_topics(Settings.from_env(self.env), bootstrap)
        self.args = [sys.executable, "-m", "streams.cli", "store-agent", "--mapping", str(mapping)]
        self.log_path = tmp_path / f"{self.prefix}log"   # a file, read while the agent runs
        self.process: subprocess.Popen[bytes] | None = None

    def topic(self, name: str) -> str:
        return self.prefix + name

    def start(self) -> Agent:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.args, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self, how: int = signal.SIGTERM) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(how)
        self.process.wait(30)
        return self.process.returncode, self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send(self, commands: list[dict[str, Any]], key: bytes | None = None) -> None:
        publish(self.bootstrap, [(self.topic("lifecycle.commands.v1"), key or c["subject"].encode(),
                                  json.dumps(c).encode()) for c in commands])

    def records(self, name: str) -> list[Any]:
        """Every record of the topic so far, in partition order."""
        consumer = KafkaConsumer(**kafka_python_options(), bootstrap_servers=self.bootstrap, group_id=None,
                                 enable_auto_commit=False, consumer_timeout_ms=1000)
        try:
            partitions = [TopicPartition(self.topic(name), p)
                          for p in sorted(consumer.partitions_for_topic(self.topic(name)) or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = consumer.end_offsets(partitions)
            found = []
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                for records in consumer.poll(timeout_ms=500).values():
                    found += records
            return found
        finally:
            consumer.close()

    def acks(self) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in self.records("lifecycle.acks.v1")]

    def committed(self) -> dict[int, int]:
        """The offsets the agent's group committed, by partition of the commands topic."""
        admin = admin_client(self.bootstrap)
        group = f"{self.prefix}lethe.store.shop-db"
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        finally:
            admin.close()
        return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    def rows(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.orders)).scalar_one())

    def applied(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(applied_commands)).scalar_one())


@pytest.fixture
def agent_factory(broker: EmbeddedBroker, store_url: str, tmp_path: Path) -> Iterator[Any]:
    made: list[Agent] = []

    def make(subjects: int, **env: str) -> Agent:
        made.append(Agent(broker.bootstrap, store_url, tmp_path, subjects, **env))
        return made[-1]
    yield make
    for agent in made:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait(10)
        agent.engine.dispose()


def test_a_failing_command_is_acked_failed_alone_and_retried_before_the_ones_after_it(agent_factory: Any) -> None:
    agent = agent_factory(3)
    first, broken, last = command("c0"), command("c1", family="tickets"), command("c2")
    agent.send([first, broken, last], key=b"one-partition")   # in order, in one poll
    agent.start()
    try:
        seen = wait_for(lambda: (lambda acks: acks if len(acks) >= 2 else None)(agent.acks()), 60,
                        "the first two acks")
        assert [(a["command_id"], a["status"]) for a in seen[:2]] == [(first["command_id"], "applied"),
                                                                      (broken["command_id"], "failed")]
        assert seen[1]["error"].startswith("database error")   # by type only
        # two retries of the broken command (each logged; only the first failure is acked): the one after
        # it must still wait
        wait_for(lambda: agent.log().count(f"command {broken['command_id']} failed on") >= 3, 60,
                 "two retries of the broken command")
        assert last["command_id"] not in {a["command_id"] for a in agent.acks()}
        assert agent.rows() == 2   # c0's row deleted; c2's row still there
        tickets = Table("tickets", MetaData(), Column("customer_id", String(32)))
        tickets.create(agent.engine)   # the database is fixed: the retry applies, then the rest
        acks = wait_for(lambda: (lambda acks: acks if last["command_id"] in {a["command_id"] for a in acks}
                                 else None)(agent.acks()), 60, "the last command's ack")
    finally:
        code, output = agent.stop()
    assert code == 0, output[-2000:]
    finals = [(a["command_id"], a["status"]) for a in acks if a["status"] != "failed"]
    assert finals == [(first["command_id"], "applied"), (broken["command_id"], "not_found"),
                      (last["command_id"], "applied")]   # in the order the commands were issued
    assert agent.rows() == 1


def test_offsets_are_committed_after_the_acks_and_a_sigkilled_batch_is_not_applied_twice(
        agent_factory: Any) -> None:
    n = 3000
    agent = agent_factory(n, LETHE_AGENT_BATCH="3")   # many small transactions per poll: the kill lands mid-poll
    commands = [command(f"c{i}") for i in range(n)]
    agent.send(commands)
    agent.start()
    wait_for(lambda: sum(agent.committed().values()) > 0, 90, "a first committed offset")
    code, _ = agent.stop(signal.SIGKILL)
    assert code == -signal.SIGKILL
    # what the group committed was acked first: every command before a committed offset has its ack
    committed = agent.committed()
    acked = {a["command_id"] for a in agent.acks()}
    covered = [json.loads(r.value)["command_id"] for r in agent.records("lifecycle.commands.v1")
               if r.offset < committed.get(r.partition, 0)]
    assert covered and set(covered) <= acked
    assert len(acked) < n, "the agent finished before the kill; the test needs smaller transactions"

    agent.start()   # the uncommitted rest, some of it applied and acked already, comes again
    try:
        acks = wait_for(lambda: (lambda acks: acks if len({a["command_id"] for a in acks}) == n else None)(
            agent.acks()), 120, "an ack of every command")
    finally:
        code, output = agent.stop()
    assert code == 0, output[-2000:]
    assert {(a["status"], a["rows_affected"]) for a in acks} == {("applied", 1)}   # a replay acks the first result
    assert agent.rows() == 0 and agent.applied() == n
