"""`lethe audit --customer` and `lethe request list` end to end (issue 13, items 1 and 2): a real worker,
sink and store agent on the embedded broker and SQLite.

One subject's orders, log, consent, legal hold, an invalid record and an erasure are published among
thousands of other subjects' records (a quarter of them on the subject's partition). While the store
agent is down, `lethe request list` shows the erasure open, due, and waiting for the shop's store, and
the worker exports its time to due; once the agent acks, the list shows it completed. `lethe audit`
then tells the subject's whole story, in time order, and nothing of anyone else's: every audit record
a full scan of the audit topic finds for the subject, each event received, the commands and their
acks, the deadlines set.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO, wait_for
from test_requests import Stack, consent_event, lethe

from processors.sample import Traffic
from processors.time import parse_time
from streams.broker import EmbeddedBroker
from streams.client import partition_counts, read, subject_partition

pytestmark = pytest.mark.integration

RETENTION = """
[retention."orders-completed"]
source = "orders.v1"
trigger = "order_event"
on = ["completed"]
after = "30d"
action = "anonymize"
"""
OTHERS = 1500   # other subjects


def story(env: dict[str, str], subject: str) -> list[dict[str, Any]]:
    done = lethe(env, "audit", "--customer", subject, "--json")
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def listed(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    done = lethe(env, "request", "list", "--json", *args)
    assert done.returncode == 0, done.stderr.decode()
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_a_subjects_story_and_the_request_list(broker: EmbeddedBroker, tmp_path: Path) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "story", retention=RETENTION)
    traffic = Traffic(REPO / "schemas" / "examples", subjects=OTHERS + 1, seed=13)
    subject, others = traffic.people[0], traffic.people[1:]
    stack.worker.start()
    stack.start("sink")
    try:
        noise = [traffic.order(p) for p in others] + [traffic.order(p) for p in others[::3]]
        mine = [traffic.order(subject) for _ in range(3)]
        for order in mine:
            order["event_type"] = "placed"
        # a retention deadline, already past: set, then fired
        mine[0].update(event_type="completed", occurred_at="2026-10-01T10:00:00+00:00")
        stack.send("orders.v1", noise[: len(noise) // 2] + mine[:2] + noise[len(noise) // 2:] + mine[2:])
        stack.send("logs.v1", [traffic.log(p) for p in others[::2]] + [traffic.log(subject)])
        invalid = dict(mine[1], event_id="broken")
        del invalid["occurred_at"]
        stack.send("orders.v1", [invalid])
        stack.send("consent.v1", [consent_event(subject.customer_id, "marketing", True, "2026-11-20T10:00:00Z"),
                                  consent_event(others[0].customer_id, "marketing", True, "2026-11-20T10:00:00Z")])
        placed = lethe(stack.env, "hold", "place", "--customer", subject.customer_id, "--case", "LIT-13")
        hold_id = placed.stdout.split()[0].decode()
        assert lethe(stack.env, "hold", "release", "--customer", subject.customer_id,
                     "--hold-id", hold_id).returncode == 0
        wait_for(lambda: stack.worker.metric("lethe_records_in_total", topic=stack.prefix + "orders.v1")
                 >= len(noise) + len(mine) + 1, 120, "every order")
        wait_for(lambda: stack.worker.metric("lethe_records_dead_lettered_total") >= 1, 60, "the dead letter")
        # before the erasure the story finds the dead letter by the key derived from the subject's secret
        assert [e["details"]["rule"] for e in story(stack.env, subject.customer_id) if e["kind"] == "dlq"] == \
            ["required"]

        # an erasure while the store agent is down: open, due, waiting for the shop's store
        filed = lethe(stack.env, "request", "erase", "--customer", subject.customer_id)
        request_id = filed.stdout.split()[0].decode()
        def status() -> str | None:
            return (stack.state(request_id) or {}).get("status")

        wait_for(lambda: status() == "in_progress", 60, "the erasure to be sent")
        [row] = [r for r in listed(stack.env, "--status", "open") if r["request_id"] == request_id]
        assert row["type"] == "erase" and row["waiting_for"] == ["shop-db"]
        assert row["due_at"] == (stack.state(request_id) or {})["due_at"]
        assert row["seconds_to_due"] > 0
        assert listed(stack.env, "--status", "completed") == []
        assert listed(stack.env, "--type", "access") == []
        table = lethe(stack.env, "request", "list", "--status", "open")
        assert request_id in table.stdout.decode() and "shop-db" in table.stdout.decode()
        due = wait_for(lambda: stack.worker.metric("lethe_request_seconds_to_due", type="erase"), 30, "the gauge")
        assert abs(due - (parse_time(row["due_at"]) - time.time())) < 600

        stack.start("store-agent")
        wait_for(lambda: status() == "completed", 90, "the erasure to complete")
        [done] = listed(stack.env, "--status", "completed", "--type", "erase")
        assert done["request_id"] == request_id and done["waiting_for"] == [] and done["completed_at"]
        assert listed(stack.env, "--status", "open") == []
        wait_for(lambda: "lethe_request_seconds_to_due{" not in stack.worker.metrics_text(), 30,
                 "the gauge's series to go with the last open request")

        # the story, from the subject's partition alone
        entries = story(stack.env, subject.customer_id)
        text = json.dumps(entries)
        assert not any(p.customer_id in text for p in others), "another subject's id in the story"
        assert [parse_time(e["at"]) for e in entries] == sorted(parse_time(e["at"]) for e in entries)
        kinds: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            kinds.setdefault(entry["kind"], []).append(entry)
        assert sorted(e["ref"] for e in kinds["event"] if e["source"].endswith("orders.v1")) == \
            sorted(o["order_id"] for o in mine)
        assert len([e for e in kinds["event"] if e["source"].endswith("logs.v1")]) == 1
        assert "dlq" not in kinds   # erased: the dead letter's key was derived from the destroyed secret
        assert [e["action"] for e in kinds["consent"]] == ["consent"]
        assert [e["action"] for e in kinds["hold"]] == ["placed", "released"]
        assert [(e["action"], e["details"]["rule"]) for e in kinds["deadline"]] == [
            ("set", "orders-completed"), ("fired", "orders-completed")]
        # the erasure: received, its commands, the store's acks, the secret destroyed, completed
        steps = [e["action"] for e in kinds["request"]]
        assert {"request_received", "shred", "ack", "completion"} <= set(steps) and steps[-1] == "completion"
        commands = {e["ref"] for e in kinds["command"] if e["action"] == "delete"}
        assert len(commands) == 2   # orders and logs
        acked = {(e["ref"], e["details"]["store"]) for e in kinds["ack"] if e["action"] in ("applied", "not_found")}
        assert {(c, "shop-db") for c in commands} <= acked
        fired = [e for e in kinds["command"] if e["details"]["cause"] == "retention"]
        assert [e["details"]["record_key"] for e in fired] == [mine[0]["order_id"]]

        # every audit record of the subject, as a full scan of every partition finds them
        audit_topic = stack.prefix + "privacy.audit.v1"
        scanned = [json.loads(r.value or b"{}") for r in read(stack.bootstrap, [audit_topic], timeout=30, idle=2)]
        assert len(scanned) > len(kinds["request"])
        mine_scanned = {a["audit_id"] for a in scanned if a["subject"] == subject.customer_id}
        assert len([e for e in entries if e["source"] == audit_topic]) == len(mine_scanned)
        count = partition_counts(stack.bootstrap, [audit_topic])[audit_topic]
        partition = subject_partition(subject.customer_id.encode(), count)
        neighbours = [p for p in others if subject_partition(p.customer_id.encode(), count) == partition]
        assert len(neighbours) > 100   # the story was read among many other subjects' records

        table = lethe(stack.env, "audit", "--customer", subject.customer_id)
        lines = table.stdout.decode().splitlines()
        assert lines[0].split() == ["TIME", "KIND", "WHAT", "REF", "DETAILS"] and len(lines) == len(entries) + 1
        nobody = lethe(stack.env, "audit", "--customer", "cust-nobody")
        assert nobody.returncode == 1 and b"nothing about customer cust-nobody" in nobody.stderr
    finally:
        stack.stop()


def test_a_partition_is_read_to_its_end_also_where_the_broker_lists_less(broker: EmbeddedBroker) -> None:
    """The embedded broker lists the first offset of the last batch + 1 as a partition's end; every record
    written before the read starts is read all the same, those of another partition are not."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    from streams.client import read_to_end
    from streams.kafka import kafka_python_options

    topic = f"t{time.monotonic_ns()}-ends"
    admin = KafkaAdminClient(**kafka_python_options(), bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    producer = KafkaProducer(**kafka_python_options(), bootstrap_servers=broker.bootstrap, linger_ms=50)
    for batch in range(5):
        for n in range(400):
            producer.send(topic, f"{batch}-{n}".encode(), partition=0)
        producer.send(topic, b"other", partition=1)
        producer.flush()
    producer.close()
    consumer = KafkaConsumer(**kafka_python_options(), bootstrap_servers=broker.bootstrap)
    listed_end = consumer.end_offsets([TopicPartition(topic, 0)])[TopicPartition(topic, 0)]
    consumer.close()
    assert listed_end < 2000   # the premise: the listed end is short of the last record
    values = [r.value for r in read_to_end(broker.bootstrap, [(topic, 0)])]
    assert len(values) == 2000 and values[-1] == b"4-399" and b"other" not in values
    assert list(read_to_end(broker.bootstrap, [])) == []


def test_each_topic_gives_the_subjects_records_only(tmp_path: Path) -> None:
    """The readers of `lethe audit`, record by record: the sharing ledger is keyed subject|partner|category,
    an ack by its command's subject, a deadline by its timer id; another subject's records give nothing."""
    from processors.records import lifecycle_ack, lifecycle_command, sharing_entry
    from streams.cli.audit import SubjectStory
    from streams.client import Record
    from streams.settings import Settings

    # its own data directory: the default (.lethe in the working directory) is the repository's
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": "p.", "LETHE_DATA_DIR": str(tmp_path)})
    told = SubjectStory(settings, "cust-1")

    def record(topic: str, key: str, value: Any) -> Record:
        topic = topic if topic.startswith(settings.app_id) else settings.topics.name(topic)
        return Record(topic, 0, 0, key.encode(), json.dumps(value).encode(), {}, 1_790_000_000_000)

    def share(subject: str) -> dict[str, Any]:
        return sharing_entry(subject, "paynow", "transaction.payment", basis="contract", region="US",
                             first_shared_at=1.0, last_shared_at=2.0, count=2)

    def command(subject: str, command_id: str) -> dict[str, Any]:
        return lifecycle_command(command_id, "delete", subject, "orders", None, issued_at=1.0, due_at=2.0,
                                 rule="req-1", cause="request")

    timer = ["orders-completed", "anonymize", "orders", "cust-1", "ORD-1", [], 9.0, "records"]
    records = [
        record("lifecycle.acks.v1", "cust-1", lifecycle_ack("cmd-1", "shop-db", "applied", 1, 3.0)),  # first
        record("lifecycle.acks.v1", "cust-2", lifecycle_ack("cmd-2", "shop-db", "applied", 1, 3.0)),
        record("privacy.sharing.v1", "cust-1|paynow|transaction.payment", share("cust-1")),
        record("privacy.sharing.v1", "cust-2|paynow|transaction.payment", share("cust-2")),
        record("partners.paynow.commands.v1", "cust-1", command("cust-1", "cmd-1")),
        record("lifecycle.commands.v1", "cust-2", command("cust-2", "cmd-2")),
        record(f"{settings.app_id}-retention-timers-changelog", "orders-completed/ORD-1", timer),
        record(f"{settings.app_id}-retention-timers-changelog", "orders-completed/ORD-2", [*timer[:3], "cust-2",
                                                                                          *timer[4:]]),
        Record("p.dlq.v1", 0, 0, b"cust-1", b"\x00secret", {"rule": b"required", "source_topic": b"orders.v1"},
               1_790_000_000_000),
        Record("p.privacy.audit.v1", 0, 0, b"cust-1", b"not json", {}, None),
    ]
    kinds = [(e.kind, e.ref) for e in told.entries(iter(records))]
    assert kinds == [("share", "paynow"), ("command", "cmd-1"), ("deadline", "orders-completed/ORD-1"),
                     ("dlq", ""), ("ack", "cmd-1")]
    assert told.unreadable == 1
