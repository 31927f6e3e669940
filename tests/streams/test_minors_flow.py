"""Minors by age end to end (policy section 8; issue 13 item 6): a real worker, sink and store agent on
the embedded broker, SQLite and PostgreSQL.

An order whose date of birth makes its customer 15 at the order's time reaches no output; Lethe files
one minor_flag request for the customer, which quarantines and erases as an explicit one does (the
store's rows go), audited with the rule that fired; a later order of the same customer files no second
request; an adult's order passes with the year of birth only.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from support import REPO, wait_for
from test_requests import Stack, lethe

from processors.minors import minor_request_id
from processors.pipeline import TopicPipeline
from processors.policy import load_policy
from processors.sample import Person, Traffic
from processors.schemas import SchemaCatalog
from streams.broker import EmbeddedBroker
from streams.client import read
from streams.metrics import Metrics
from streams.state.secrets import SecretStore
from streams.state.subjects import SubjectState


def born_years_before(event: dict[str, Any], years: int) -> str:
    day = datetime.fromisoformat(event["occurred_at"]).date()
    return date(day.year - years, day.month, min(day.day, 28)).isoformat()


def order_of(stack: Stack, person: Person, years: int) -> dict[str, Any]:
    event = stack.traffic.order(person)
    event["customer"]["date_of_birth"] = born_years_before(event, years)
    return event


def values(stack: Stack, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"") for r in read(stack.bootstrap, [stack.prefix + topic], timeout=20, idle=1.5)]


def test_until_its_request_is_accepted_a_found_minor_stays_quarantined(examples_dir: Path) -> None:
    """The worker's own state holds a found minor back (the request is on its way through Kafka): the
    customer's next order, with no date of birth, reaches no output and is not reported again."""
    pipeline = TopicPipeline(SchemaCatalog.load(REPO / "schemas"), load_policy(REPO / "deploy" / "policy.toml"),
                             "orders.v1", b"M" * 32)
    state = SubjectState(SecretStore("127.0.0.1:9", "unused-secrets", Metrics()))   # in memory: never started
    traffic = Traffic(examples_dir, subjects=3)
    kid, adult = traffic.people[:2]
    young = traffic.order(kid)
    young["customer"]["date_of_birth"] = born_years_before(young, 15)
    first = pipeline.process([json.dumps(young).encode()], [2], state)
    assert first.minors == [(2, kid.customer_id)] and first.outputs == []
    state.absorb(first)
    later = traffic.order(kid)
    later["customer"]["date_of_birth"] = None
    second = pipeline.process([json.dumps(later).encode(), json.dumps(traffic.order(adult)).encode()], [2, 1], state)
    assert second.minors == [] and {out.index for out in second.outputs} == {1}
    assert {reason for (_, reason, subject) in second.gated if subject == kid.customer_id} == {"quarantine"}


@pytest.mark.integration
def test_a_minor_by_date_of_birth_is_quarantined_and_erased_once(broker: EmbeddedBroker, tmp_path: Path,
                                                                 store_url: str) -> None:
    stack = Stack(broker, tmp_path, store_url, "minorAge")
    kid, adult = stack.traffic.people[:2]
    # the shop's database holds the orders before Lethe reads them, as upstream writes it first
    stack.start("sink", "store-agent")
    try:
        first, grown = order_of(stack, kid, 15), order_of(stack, adult, 40)
        stack.send("orders.v1", [first, grown])
        wait_for(lambda: len(stack.rows()[0]) == 2, 60, "the shop's rows")
        stack.worker.start()

        request_id = minor_request_id(kid.customer_id)
        status = lethe(stack.env, "request", "status", request_id, "--wait", "90")
        assert status.returncode == 0, status.stderr
        view = json.loads(status.stdout)
        assert (view["type"], view["status"]) == ("minor_flag", "completed")
        assert (stack.state(request_id) or {}).get("channel") == "internal"
        assert {r.customer_id for r in stack.rows()[0]} == {adult.customer_id}   # erased from the store

        out = values(stack, "orders.anonymized.v1")
        assert [o["event_id"] for o in out] == [grown["event_id"]]   # the minor's order reached no output
        assert out[0]["customer"]["date_of_birth"] == grown["customer"]["date_of_birth"][:4]   # the year only

        audit = values(stack, "privacy.audit.v1")
        found = [e for e in audit if e["action"] == "minor_found"]
        assert len(found) == 1 and found[0]["rule"] == "minors.age" and found[0]["request_id"] == request_id
        assert found[0]["subject"] == kid.customer_id and found[0]["details"]["age"] == "18"
        gates = [e for e in audit if e["action"] == "gate" and e["subject"] == kid.customer_id]
        assert gates and {e["rule"] for e in gates} == {"gate.quarantine"}
        trail = {e["action"] for e in audit if e["request_id"] == request_id}
        assert {"minor_found", "request_received", "quarantine", "shred", "completion"} <= trail
        assert not any(first["customer"]["date_of_birth"] in json.dumps(e) for e in audit)   # the rule, not the date

        # a later order of the same customer: held back, and no second request
        later = order_of(stack, kid, 15)
        stack.send("orders.v1", [later])
        wait_for(lambda: stack.worker.metric("lethe_records_in_total", topic=stack.prefix + "orders.v1") == 3, 30,
                 "the later order")
        assert stack.worker.metric("lethe_minors_found_total", topic=stack.prefix + "orders.v1") == 1
        assert stack.worker.metric("lethe_requests_received_total", type="minor_flag") == 1
        filed = [r for r in values(stack, "privacy-requests.v1") if r["customer_id"] == kid.customer_id]
        assert [r["request_id"] for r in filed] == [request_id]
        assert filed[0]["details"]["rule"] == "minors.age"
        assert later["event_id"] not in {o["event_id"] for o in values(stack, "orders.anonymized.v1")}
        assert stack.worker.metric("lethe_records_gated_total", reason="quarantine") >= 2
        assert first["customer"]["date_of_birth"] not in stack.worker.log()
    finally:
        stack.stop()
