"""Retention end to end: worker timers -> lifecycle commands -> store agent -> rows, on SQLite and PostgreSQL.

A real worker (on a fake clock, tests/clockworker.py), `lethe sink` and `lethe store-agent` on the
embedded broker, with a policy whose durations are days and years. Time moves only when the test
moves it, so each deadline fires exactly when it is reached and not a moment before: orders and logs
written by the sink are anonymized or deleted when due and not before; a held subject (or order) is
untouched until its hold is released; every command is acked and audited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from support import FakeClock, Service, Worker, policy_with, unique_prefix, wait_for

from processors.sample import Traffic
from processors.time import parse_time
from streams.broker import EmbeddedBroker
from streams.client import publish, read
from streams.store.sink import logs, orders

pytestmark = pytest.mark.integration

DAY = 86_400.0
RULES = """
[retention."orders-completed"]
family = "orders"
trigger = "order_event"
on = ["completed"]
after = "3y"
action = "anonymize"

[retention."orders-cancelled"]
family = "orders"
trigger = "order_event"
on = ["cancelled", "refunded"]
after = "30d"
action = "delete"

[retention."logs"]
family = "logs"
trigger = "event_time"
after = "90d"
action = "delete"
"""
START = 1_795_000_000.0   # 2026-11-18T08:26:40Z: every event happens then, and the worker's clock starts there


def at(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def table_rows(engine: Engine) -> tuple[dict[str, Any], dict[str, Any]]:
    with engine.connect() as conn:
        return ({r.order_id: r for r in conn.execute(select(orders))},
                {r.event_id: r for r in conn.execute(select(logs))})


def hold(hold_id: str, action: str, customer_id: str, order_id: str | None = None) -> tuple[str, bytes, bytes]:
    event = {"hold_id": hold_id, "action": action, "occurred_at": at(START), "customer_id": customer_id,
             "order_id": order_id, "case_ref": "CASE-1"}
    return "legal-holds.v1", customer_id.encode(), json.dumps(event).encode()


def test_rows_expire_on_time_and_holds_suspend_them(broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path,
                                                    store_url: str) -> None:
    prefix = unique_prefix("retention")
    traffic = Traffic(examples_dir, subjects=5)
    p = traffic.people
    clock = FakeClock(tmp_path / "clock", START)
    worker = Worker(broker.bootstrap, prefix, tmp_path, clock, LETHE_POLICY=str(policy_with(tmp_path, RULES)),
                    LETHE_STORE_URL=store_url).start()
    env = {**worker.env, "LETHE_METRICS_PORT": "0"}
    services = [Service(name, env, tmp_path / f"{name}.log") for name in ("sink", "store-agent")]
    engine = create_engine(store_url)
    bootstrap = broker.bootstrap

    def send(events: list[tuple[str, bytes, bytes]]) -> None:
        publish(bootstrap, [(prefix + topic, key, value) for topic, key, value in events])

    def order(person: Any, order_id: str, event_type: str) -> tuple[str, bytes, bytes]:
        event = {**traffic.order(person), "order_id": order_id, "event_type": event_type, "occurred_at": at(START)}
        return "orders.v1", person.customer_id.encode(), json.dumps(event).encode()

    def log(person: Any, event_id: str, anonymous: bool = False) -> tuple[str, bytes, bytes]:
        event = {**traffic.log(person, anonymous=anonymous), "event_id": event_id, "occurred_at": at(START)}
        key = event["session_id"] if anonymous else person.customer_id
        return "logs.v1", key.encode(), json.dumps(event).encode()

    def fired() -> float:
        return worker.metric("lethe_retention_timers_fired_total")

    def applied_acks() -> float:
        return worker.metric("lethe_lifecycle_acks_total", status="applied")

    def move_clock_to(moment: float, fire: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Move the worker's clock; wait for exactly ``fire`` more deadlines to fire and be applied."""
        fired_before, acked_before = fired(), applied_acks()
        clock.set(moment)
        wait_for(lambda: fired() >= fired_before + fire and applied_acks() >= acked_before + fire, 60,
                 f"{fire} deadlines at +{(moment - START) / DAY:.0f} days")
        # one tick fires every timer due by the clock it read: any early one would have fired with these
        assert fired() == fired_before + fire and applied_acks() == acked_before + fire
        return table_rows(engine)

    try:
        send([order(p[4], "oF", "placed")])
        send([hold("h-subject", "place", p[2].customer_id), hold("h-order", "place", p[3].customer_id, "oD")])
        send([order(p[0], "oA", "placed"), order(p[0], "oA", "completed"),    # anonymize at +3 years
              order(p[1], "oB", "placed"), order(p[1], "oB", "cancelled"),    # delete at +30 days
              order(p[2], "oC", "completed"),                                 # held (subject)
              order(p[3], "oD", "completed"), order(p[3], "oE", "completed"),  # oD held (order), oE not
              log(p[0], "l1"), log(p[0], "l2", anonymous=True)])              # delete at +90 days

        rows = wait_for(lambda: (lambda o, lg: (o, lg) if len(o) == 6 and len(lg) == 2 else None)(
            *table_rows(engine)), 30, "the sink to write every row")
        wait_for(lambda: worker.metric("lethe_retention_timers_pending") == 7
                 and worker.metric("lethe_legal_holds_active") == 2, 30, "every deadline and hold")
        # the clock has not moved since the events happened: no deadline is due, nothing expired early
        before_orders, before_logs = rows
        assert all(r.customer_email is not None for r in before_orders.values())   # nothing expired early
        assert set(before_logs) == {"l1", "l2"}
        assert fired() == 0

        # each deadline fires when the clock reaches it, and only the rows it covers change
        after_orders, after_logs = move_clock_to(START + 30 * DAY, fire=1)                 # oB
        assert set(after_orders) == set(before_orders) - {"oB"} and set(after_logs) == {"l1", "l2"}
        assert all(after_orders[k].customer_email == before_orders[k].customer_email for k in after_orders)
        after_orders, after_logs = move_clock_to(START + 90 * DAY, fire=2)                 # l1, l2
        assert not after_logs and all(r.customer_email is not None for r in after_orders.values())
        move_clock_to(START + 3 * 365 * DAY, fire=2)                                      # oA, oE; oC, oD held
        assert worker.metric("lethe_retention_timers_held") == 2

        acks = [json.loads(r.value or b"") for r in read(bootstrap, [prefix + "lifecycle.acks.v1"], expect=5,
                                                         timeout=60)]
        assert sorted((a["status"], a["rows_affected"]) for a in acks) == [("applied", 1)] * 5
        after_orders, after_logs = table_rows(engine)
        assert set(after_orders) == {"oA", "oC", "oD", "oE", "oF"} and not after_logs
        for key in ("oA", "oE"):   # anonymized: personal columns gone, the rest kept
            row = after_orders[key]
            assert (row.customer_email, row.customer_name, row.customer_phone, row.shipping_street) == (None,) * 4
            assert row.total_amount is not None and row.currency is not None
        for key in ("oC", "oD", "oF"):   # held, held, no rule
            assert after_orders[key].customer_email == before_orders[key].customer_email

        commands = [json.loads(r.value or b"") for r in read(bootstrap, [prefix + "lifecycle.commands.v1"],
                                                             expect=5, timeout=10)]
        assert sorted((c["selector"]["record_key"], c["action"], c["rule"]) for c in commands) == [
            ("l1", "delete", "logs"), ("l2", "delete", "logs"), ("oA", "anonymize", "orders-completed"),
            ("oB", "delete", "orders-cancelled"), ("oE", "anonymize", "orders-completed")]
        for command in commands:   # not before its deadline
            assert parse_time(command["issued_at"]) >= parse_time(command["due_at"])
            # and exactly at it: the clock was moved to each deadline and fired it there
            assert parse_time(command["issued_at"]) == parse_time(command["due_at"])
        assert {c["subject"] for c in commands if c["selector"]["record_key"] == "l2"} == {""}

        # release both holds: the overdue timers fire at once
        send([hold("h-subject", "release", p[2].customer_id), hold("h-order", "release", p[3].customer_id, "oD")])
        acks = [json.loads(r.value or b"") for r in read(bootstrap, [prefix + "lifecycle.acks.v1"], expect=7,
                                                         timeout=60)]
        assert len(acks) == 7
        after_orders, _ = table_rows(engine)
        assert after_orders["oC"].customer_email is None and after_orders["oD"].customer_email is None
        assert after_orders["oF"].customer_email is not None

        audit = [json.loads(r.value or b"") for r in read(bootstrap, [prefix + "privacy.audit.v1"], expect=13,
                                                          timeout=10)]
        actions: dict[str, int] = {}
        for entry in audit:
            actions[entry["action"]] = actions.get(entry["action"], 0) + 1
        assert actions == {"hold_place": 2, "suspended": 2, "command": 7, "hold_release": 2}
        suspended = {e["details"]["timer"] for e in audit if e["action"] == "suspended"}
        assert suspended == {"orders-completed/oC", "orders-completed/oD"}
        assert all(e["rule"] for e in audit)

        wait_for(lambda: worker.metric("lethe_lifecycle_acks_total", status="applied") >= 7, 15, "acks counted")
        assert worker.metric("lethe_retention_timers_fired_total", rule="orders-completed") == 4
        assert worker.metric("lethe_retention_timers_fired_total", rule="logs", action="delete") == 2
        assert worker.metric("lethe_retention_timers_pending") == 0
        assert worker.metric("lethe_retention_firing_lateness_seconds_count") == 7
        assert worker.metric("lethe_lifecycle_commands_emitted_total", cause="retention") == 7
        wait_for(lambda: worker.metric("lethe_lifecycle_commands_unacked") == 0
                 and "lethe_lifecycle_commands_unacked 0.0" in worker.metrics_text(), 15, "no unacked commands")
    finally:
        codes = [s.stop() for s in services]
        assert worker.stop() == 0, worker.log()[-3000:]
        engine.dispose()
    assert codes == [0, 0], [s.log()[-2000:] for s in services]
