"""Rights requests end to end: a real worker, sink and store agent on the embedded broker, SQLite and PostgreSQL.

Erasure reaches the store and completes only on the store's ack, destroys the subject's secret
(its later records get a new, unlinkable pseudonym), and is reconstructable from the audit topic;
a store agent that is down when the erasure arrives catches up and the request then completes;
restriction and objection hold the subject's records back from the gated outputs only.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from support import (
    REPO,
    FakeClock,
    Service,
    Worker,
    keys_by_event,
    policy_with,
    unique_prefix,
    wait_for,
    without_partners,
)

from processors.sample import Traffic
from processors.time import parse_time
from streams.broker import EmbeddedBroker
from streams.client import publish, read
from streams.requests import read_request_state
from streams.settings import Settings
from streams.store.sink import logs, orders

pytestmark = pytest.mark.integration

LETHE = str(Path(sys.executable).parent / "lethe")


def lethe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([LETHE, *args], env=env, cwd=REPO, capture_output=True, timeout=120, check=False)


DEFAULT_RETENTION = (REPO / "deploy" / "policy.toml").read_text().split("# Retention (policy section 3.1")[1]


def short_rights(tmp_path: Path, retention: str = "", partners: bool = False) -> Path:
    """The shipped policy with a short ack timeout; without its partners unless ``partners`` (their store
    agents would have to ack every erasure: tests/streams/test_sharing_ledger.py runs them)."""
    policy = policy_with(tmp_path, retention)
    text = policy.read_text().replace('ack_timeout = "60s"', 'ack_timeout = "3s"')
    if not partners:
        text = without_partners(text)
    # logs serve a second purpose, so objecting to analytics can spare them
    text = text.replace('[outputs."logs.anonymized.v1"]\nsource = "logs.v1"\npurpose = "analytics"',
                        '[outputs."logs.anonymized.v1"]\nsource = "logs.v1"\npurpose = "security"')
    assert 'purpose = "security"' in text and 'ack_timeout = "3s"' in text
    policy.write_text(text)
    return policy


class Stack:
    def __init__(self, broker: EmbeddedBroker, tmp_path: Path, store_url: str, name: str,
                 retention: str = "", partners: bool = False, table_store: str = "memory://",
                 clock: FakeClock | None = None) -> None:
        self.prefix = unique_prefix(name)
        self.bootstrap = broker.bootstrap
        policy = short_rights(tmp_path, retention, partners)
        self.worker = Worker(broker.bootstrap, self.prefix, tmp_path, clock, LETHE_POLICY=str(policy),
                             LETHE_STORE_URL=store_url, LETHE_TABLE_STORE=table_store)
        self.env = {**self.worker.env, "LETHE_METRICS_PORT": "0"}
        self.tmp_path = tmp_path
        self.engine = create_engine(store_url)
        self.services: dict[str, Service] = {}
        self.traffic = Traffic(REPO / "schemas" / "examples", subjects=4)

    def start(self, *names: str) -> None:
        for name in names:
            self.services[name] = Service(name, self.env, self.tmp_path / f"{name}-{time.monotonic_ns()}.log")

    def stop(self) -> None:
        codes = {name: service.stop() for name, service in self.services.items()}
        assert self.worker.stop() == 0, self.worker.log()[-3000:]
        self.engine.dispose()
        assert set(codes.values()) <= {0}, {n: s.log()[-2000:] for n, s in self.services.items()}

    def send(self, topic: str, events: list[dict[str, Any]]) -> None:
        publish(self.bootstrap, [(self.prefix + topic, str(e.get("customer_id") or e.get("session_id")).encode(),
                                  json.dumps(e).encode()) for e in events])

    def rows(self) -> tuple[list[Any], list[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(orders))), list(conn.execute(select(logs)))

    def state(self, request_id: str) -> dict[str, Any] | None:
        return read_request_state(self.bootstrap, Settings.from_env(self.env), request_id)

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(r.value or b"") for r in read(self.bootstrap, [self.prefix + "privacy.audit.v1"],
                                                         timeout=20, idle=1.5)]

    def output_keys(self, topic: str) -> list[bytes]:
        return [r.key or b"" for r in read(self.bootstrap, [self.prefix + topic], timeout=20, idle=1.5)]


def test_erase_reaches_the_store_shreds_the_secret_and_completes(broker: EmbeddedBroker, tmp_path: Path,
                                                                 store_url: str) -> None:
    stack = Stack(broker, tmp_path, store_url, "erase")
    stack.worker.start()
    stack.start("sink", "store-agent")
    a, b = stack.traffic.people[:2]
    try:
        first = [stack.traffic.order(a), stack.traffic.order(b), stack.traffic.order(a)]
        stack.send("orders.v1", first)
        stack.send("logs.v1", [stack.traffic.log(a), stack.traffic.log(b)])
        wait_for(lambda: (lambda o, lg: len(o) == 3 and len(lg) == 2)(*stack.rows()), 60, "rows")
        topic = stack.prefix + "orders.anonymized.v1"
        before = keys_by_event(stack.bootstrap, topic, {e["event_id"] for e in first})
        a_keys = {before[first[0]["event_id"]], before[first[2]["event_id"]]}
        assert len(a_keys) == 1 and before[first[1]["event_id"]] not in a_keys   # one pseudonym per subject

        filed = lethe(stack.env, "request", "erase", "--customer", a.customer_id, "--channel", "help_center")
        assert filed.returncode == 0, filed.stderr
        request_id = filed.stdout.split()[0].decode()
        status = lethe(stack.env, "request", "status", request_id, "--wait", "60")
        assert status.returncode == 0, status.stderr
        view = json.loads(status.stdout)
        assert view["status"] == "completed" and view["type"] == "erase"
        assert set(view["acks"].values()) == {"applied"} and len(view["acks"]) == 2   # orders and logs, shop-db

        found_orders, found_logs = stack.rows()
        assert {r.customer_id for r in found_orders} == {b.customer_id}
        assert {r.customer_id for r in found_logs} == {b.customer_id}

        # a later record of the erased subject is not linkable to the earlier ones
        later = stack.traffic.order(a)
        stack.send("orders.v1", [later])
        new_key = keys_by_event(stack.bootstrap, topic, {later["event_id"]})[later["event_id"]]
        assert new_key not in a_keys

        trail = [e for e in stack.audit() if e["request_id"] == request_id]
        actions = sorted(e["action"] for e in trail)
        assert actions == ["ack", "ack", "command", "command", "completion", "request_received", "shred"]
        assert all(e["subject"] == a.customer_id for e in trail)
        assert {e["details"]["secret"] for e in trail if e["action"] == "shred"} == {"destroyed"}
        assert stack.worker.metric("lethe_erasure_completion_seconds_count") == 1
        assert stack.worker.metric("lethe_requests_open") == 0
    finally:
        stack.stop()


def test_a_store_agent_that_was_down_catches_up_and_the_erasure_completes(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "down")
    stack.worker.start()
    stack.start("sink")
    a = stack.traffic.people[0]
    try:
        stack.send("orders.v1", [stack.traffic.order(a)])
        wait_for(lambda: len(stack.rows()[0]) == 1, 60, "the row")
        filed = lethe(stack.env, "request", "erase", "--customer", a.customer_id)
        request_id = filed.stdout.split()[0].decode()
        wait_for(lambda: (stack.state(request_id) or {}).get("retries", 0) >= 1, 30, "a retry after ack_timeout")
        state = stack.state(request_id)
        assert state is not None and state["status"] == "in_progress" and len(stack.rows()[0]) == 1
        assert stack.worker.metric("lethe_request_retries_total", type="erase") >= 1
        assert stack.worker.metric("lethe_requests_open", type="erase", status="in_progress") == 1

        stack.start("store-agent")
        wait_for(lambda: (stack.state(request_id) or {}).get("status") == "completed", 60, "completion")
        assert stack.rows()[0] == []
        retries = [e for e in stack.audit() if e["request_id"] == request_id and e["action"] == "retry"]
        assert retries and retries[0]["details"]["waiting_for"] == "shop-db"
    finally:
        stack.stop()


@pytest.mark.parametrize("table_store", ["memory://", "rocksdb://"])
def test_restriction_and_objection_hold_back_only_the_gated_outputs(broker: EmbeddedBroker, tmp_path: Path,
                                                                   table_store: str) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "gate", table_store=table_store)
    stack.worker.start()
    a, b, c = stack.traffic.people[:3]
    try:
        env = stack.env
        assert lethe(env, "request", "restrict", "--customer", a.customer_id).returncode == 0
        assert lethe(env, "request", "object", "--customer", b.customer_id,
                     "--detail", "purpose=analytics").returncode == 0
        wait_for(lambda: stack.worker.metric("lethe_requests_received_total") == 2, 30, "the requests")
        stack.send("orders.v1", [stack.traffic.order(p) for p in (a, b, c)])
        stack.send("logs.v1", [stack.traffic.log(p) for p in (a, b, c)])
        wait_for(lambda: stack.worker.metric("lethe_records_in_total", topic=stack.prefix + "logs.v1") == 3, 30,
                 "the events")
        orders_out = stack.output_keys("orders.anonymized.v1")
        logs_out = stack.output_keys("logs.anonymized.v1")
        assert len(orders_out) == 1            # c only: a restricted, b objected to analytics
        assert len(logs_out) == 2              # b and c: logs serve "security", which b did not object to
        m = stack.worker.metric
        assert m("lethe_records_gated_total", topic=stack.prefix + "orders.anonymized.v1", reason="restrict") == 1
        assert m("lethe_records_gated_total", topic=stack.prefix + "orders.anonymized.v1", reason="object") == 1
        assert m("lethe_records_gated_total", topic=stack.prefix + "logs.anonymized.v1", reason="restrict") == 1
        gates = [e for e in stack.audit() if e["action"] == "gate"]
        assert {(e["subject"], e["details"]["reason"]) for e in gates} >= {
            (a.customer_id, "restrict"), (b.customer_id, "object")}

        # lifting the restriction lets a's next records through again
        assert lethe(env, "request", "restrict", "--customer", a.customer_id,
                     "--detail", "action=lift").returncode == 0
        wait_for(lambda: stack.worker.metric("lethe_requests_received_total") == 3, 30, "the lift")
        stack.send("orders.v1", [stack.traffic.order(a)])
        wait_for(lambda: len(stack.output_keys("orders.anonymized.v1")) == 2, 30, "a's order after the lift")
    finally:
        stack.stop()


def test_bad_requests_are_refused_by_the_cli_and_dead_lettered_by_the_worker(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "badreq")
    env = dict(os.environ, **{k: v for k, v in stack.env.items() if k.startswith("LETHE_")})
    assert b"an erase request needs --customer" in lethe(env, "request", "erase").stderr
    assert b"is not a request type" in lethe(env, "request", "shred").stderr
    stack.worker.start()
    try:
        publish(stack.bootstrap, [(stack.prefix + "privacy-requests.v1", b"x", b'{"request_id": "r1"}')])
        dead = list(read(stack.bootstrap, [stack.prefix + "dlq.v1"], expect=1, timeout=30))
        assert len(dead) == 1 and dead[0].headers["rule"] == b"required"
    finally:
        stack.stop()


def consent_event(subject: str, purpose: str, granted: bool, occurred_at: str) -> dict[str, Any]:
    return {"event_id": f"c-{subject}-{purpose}-{occurred_at}", "occurred_at": occurred_at, "customer_id": subject,
            "purpose": purpose, "granted": granted, "policy_version": "2026-11-01", "source": "cookie_banner"}


@pytest.mark.parametrize("table_store", ["memory://", "rocksdb://"])
def test_consent_refusal_and_withdrawal_stop_only_the_outputs_that_need_it(broker: EmbeddedBroker,
                                                                          tmp_path: Path, table_store: str) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "consent", table_store=table_store)
    stack.worker.start()
    stack.start("sink", "store-agent")
    a, b, c = stack.traffic.people[:3]
    try:
        # a refuses analytics cookies (a later grant-then-refusal; arrival order does not matter)
        stack.send("consent.v1", [consent_event(a.customer_id, "cookies_analytics", False, "2026-11-20T10:00:00Z"),
                                  consent_event(a.customer_id, "cookies_analytics", True, "2026-11-19T10:00:00Z")])
        wait_for(lambda: stack.worker.metric("lethe_consent_decisions_total") == 2, 30, "the consent events")
        # c's logs are stored before c withdraws analytics-cookie consent: their browsing data goes
        c_logs = [stack.traffic.log(c) for _ in range(2)]
        stack.send("logs.v1", c_logs)
        wait_for(lambda: len(stack.rows()[1]) == 2, 60, "c's log rows")
        filed = lethe(stack.env, "request", "withdraw_consent", "--customer", c.customer_id,
                      "--detail", "purpose=cookies_analytics")
        request_id = filed.stdout.split()[0].decode()
        status = lethe(stack.env, "request", "status", request_id, "--wait", "60")
        assert json.loads(status.stdout)["status"] == "completed", status.stdout
        assert all(row.url is None for row in stack.rows()[1])   # behavior.browsing, collected on that consent
        before = stack.worker.metric("lethe_records_out_total", topic=stack.prefix + "logs.anonymized.v1")

        stack.send("orders.v1", [stack.traffic.order(p) for p in (a, b, c)])
        stack.send("logs.v1", [stack.traffic.log(p) for p in (a, b, c)])
        wait_for(lambda: stack.worker.metric("lethe_records_in_total", topic=stack.prefix + "logs.v1") == 5, 30,
                 "the events")
        wait_for(lambda: stack.worker.metric("lethe_records_out_total",
                                             topic=stack.prefix + "orders.anonymized.v1") == 3, 30, "orders")
        # logs: only b's (a refused, c withdrew); orders: all three (they need only analytics)
        assert stack.worker.metric("lethe_records_out_total", topic=stack.prefix + "logs.anonymized.v1") == before + 1
        gated = stack.worker.metric("lethe_records_gated_total", topic=stack.prefix + "logs.anonymized.v1",
                                    reason="consent_refused.cookies_analytics")
        assert gated == 2
        trail = [e for e in stack.audit() if e["subject"] == c.customer_id]
        assert {"consent", "command", "ack", "completion"} <= {e["action"] for e in trail}
    finally:
        stack.stop()


def test_an_access_export_holds_exactly_the_subjects_data(broker: EmbeddedBroker, tmp_path: Path) -> None:
    retention = "[retention." + DEFAULT_RETENTION.split("[retention.", 1)[1]
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "access", retention)
    stack.worker.start()
    stack.start("sink", "store-agent")
    a, b = stack.traffic.people[:2]
    try:
        a_orders = [{**stack.traffic.order(a), "event_type": "completed"} for _ in range(2)]
        stack.send("orders.v1", [*a_orders, stack.traffic.order(b)])
        stack.send("logs.v1", [stack.traffic.log(a), stack.traffic.log(b), stack.traffic.log(b)])
        stack.send("consent.v1", [consent_event(a.customer_id, "marketing", True, "2026-11-20T10:00:00Z"),
                                  consent_event(b.customer_id, "marketing", False, "2026-11-20T10:00:00Z")])
        assert lethe(stack.env, "hold", "place", "--customer", a.customer_id, "--case", "LIT-5").returncode == 0
        wait_for(lambda: (lambda o, lg: len(o) == 3 and len(lg) == 3)(*stack.rows()), 60, "rows")
        wait_for(lambda: stack.worker.metric("lethe_legal_holds_active") == 1, 30, "the hold")
        wait_for(lambda: stack.worker.metric("lethe_consent_decisions_total") == 2, 30, "the consents")
        out = tmp_path / "exports"
        result = lethe(stack.env, "request", "access", "--customer", a.customer_id, "--out", str(out))
        assert result.returncode == 0, result.stderr[-2000:]
        [path] = list(out.glob("*.json"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600   # personal data: the owner's only
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        text = path.read_text()
        document = json.loads(text)
        # the file starts with the request that produced it, as `lethe request status` knows it
        assert list(document)[:2] == ["format", "request"] and document["format"] == "lethe.export.v2"
        request = document["request"]
        status = json.loads(lethe(stack.env, "request", "status", request["request_id"]).stdout)
        assert path.name == f"{request['request_id']}.json"
        assert request["type"] == "access" and request["subject"] == a.customer_id
        assert request["channel"] == "internal" and request["status"] == "completed"
        for key in ("received_at", "due_at", "completed_at"):
            assert request[key] == status[key], key
        filed, accepted, completed, due = (parse_time(request[key]) for key in ("received_at", "accepted_at",
                                                                               "completed_at", "due_at"))
        assert filed <= accepted <= completed < due
        assert request["stores"] == ["shop-db"]
        rows = document["stores"]["shop-db"]
        assert sorted(r["order_id"] for r in rows["orders"]) == sorted(o["order_id"] for o in a_orders)
        assert [r["customer_id"] for r in rows["logs"]] == [a.customer_id]
        assert {r["customer_email"] for r in rows["orders"]} == {a.email}
        lethe_part = document["lethe"]
        assert lethe_part["consent"]["current"]["marketing"]["granted"] is True
        assert [h["case_ref"] for h in lethe_part["legal_holds"]] == ["LIT-5"]
        deadlines = {d["rule"] for d in lethe_part["pending_deadlines"]}
        assert deadlines == {"orders-completed", "logs"}
        assert len(lethe_part["pending_deadlines"]) == 3
        for value in (b.customer_id, b.email, b.name):   # nothing of anyone else
            assert value not in text
        audit = [e for e in stack.audit() if e["request_id"] == request["request_id"]]
        assert {"export_requested", "export_ready", "export_written", "completion"} <= {e["action"] for e in audit}
    finally:
        stack.stop()


def test_rectify_updates_the_store_and_a_minor_flag_quarantines_and_erases(broker: EmbeddedBroker,
                                                                            tmp_path: Path) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "minor")
    stack.worker.start()
    stack.start("sink", "store-agent")
    a, b = stack.traffic.people[:2]
    try:
        stack.send("orders.v1", [stack.traffic.order(a), stack.traffic.order(b)])
        stack.send("logs.v1", [stack.traffic.log(b)])
        wait_for(lambda: (lambda o, lg: len(o) == 2 and len(lg) == 1)(*stack.rows()), 60, "rows")
        fixed = lethe(stack.env, "request", "rectify", "--customer", a.customer_id,
                      "--detail", "contact.email=new.address@mail.example", "--detail", "message=typo")
        rectify_id = fixed.stdout.split()[0].decode()
        flagged = lethe(stack.env, "request", "minor_flag", "--customer", b.customer_id)
        minor_id = flagged.stdout.split()[0].decode()
        for request_id in (rectify_id, minor_id):
            status = lethe(stack.env, "request", "status", request_id, "--wait", "60")
            assert json.loads(status.stdout)["status"] == "completed", status.stdout
        found_orders, found_logs = stack.rows()
        assert [(r.customer_id, r.customer_email) for r in found_orders] == [(a.customer_id,
                                                                              "new.address@mail.example")]
        assert found_logs == []
        # the flagged subject's new records reach no output
        stack.send("orders.v1", [stack.traffic.order(b)])
        wait_for(lambda: stack.worker.metric("lethe_records_gated_total", reason="quarantine") == 1, 30,
                 "the quarantine")
        audit = stack.audit()
        rectify_audit = [e for e in audit if e["request_id"] == rectify_id and e["action"] == "command"]
        assert rectify_audit and all("new.address" not in json.dumps(e) for e in audit)   # names, not values
        assert {"quarantine", "shred", "completion"} <= {e["action"] for e in audit if e["request_id"] == minor_id}
    finally:
        stack.stop()


def test_a_legal_hold_suspends_an_erasure_until_it_is_released(broker: EmbeddedBroker, tmp_path: Path) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "heldErase")
    stack.worker.start()
    stack.start("sink", "store-agent")
    a = stack.traffic.people[0]
    try:
        stack.send("orders.v1", [stack.traffic.order(a)])
        wait_for(lambda: len(stack.rows()[0]) == 1, 60, "the row")
        placed = lethe(stack.env, "hold", "place", "--customer", a.customer_id, "--case", "LIT-8")
        hold_id = placed.stdout.split()[0].decode()
        wait_for(lambda: stack.worker.metric("lethe_legal_holds_active") == 1, 30, "the hold")
        filed = lethe(stack.env, "request", "erase", "--customer", a.customer_id)
        request_id = filed.stdout.split()[0].decode()
        state = wait_for(lambda: stack.state(request_id), 30, "the request")
        assert state["status"] == "in_progress" and state["suspended_by"] == [hold_id] and state["commands"] == {}
        # a later request of the same subject, completed: the store agent has answered every command
        # of the subject's partition before it, so an erase command issued under the hold would be applied
        marker = lethe(stack.env, "request", "access", "--customer", a.customer_id)
        status = lethe(stack.env, "request", "status", marker.stdout.split()[0].decode(), "--wait", "60")
        assert json.loads(status.stdout)["status"] == "completed", status.stdout
        assert len(stack.rows()[0]) == 1   # nothing deleted under the hold
        assert lethe(stack.env, "hold", "release", "--customer", a.customer_id, "--hold-id", hold_id).returncode == 0
        wait_for(lambda: (stack.state(request_id) or {}).get("status") == "completed", 60, "the erasure")
        assert stack.rows()[0] == []
        actions = [e["action"] for e in stack.audit() if e["request_id"] == request_id]
        assert {"suspended", "resumed", "shred", "completion"} <= set(actions)
    finally:
        stack.stop()
