"""International transfers on a real worker (issue 12): EU-origin orders reach an EU output as today,
a US output only pseudonymized and an XX output not at all; lethe_transfers_total counts every
decision, and each blocked or pseudonymized transfer is on privacy.audit.v1 once per batch and subject.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import REPO, Worker, unique_prefix, wait_for

from processors.transfers import EEA
from streams.broker import EmbeddedBroker
from streams.client import publish, read

pytestmark = pytest.mark.integration

TRANSFERS = f"""
[transfers]
default_origin = "EU"

[transfers.regions]
EU = {json.dumps(list(EEA))}
US = ["US"]
XX = []

[transfers.origin]
"orders.v1" = "shipping_address.country"

[[transfers.rules]]
origin = "EU"
destination = "US"
decision = "pseudonymize"

[[transfers.rules]]
origin = "EU"
destination = "XX"
decision = "block"

[[transfers.rules]]
origin = "US"
destination = "EU"
decision = "allow"
safeguard = "adequacy"

[[transfers.rules]]
origin = "US"
destination = "XX"
decision = "allow"
safeguard = "scc"

[[transfers.rules]]
origin = "XX"
destination = "EU"
decision = "block"

[[transfers.rules]]
origin = "XX"
destination = "US"
decision = "block"

"""

OUTPUTS = """
[outputs."orders.us.v1"]
source = "orders.v1"
purpose = "support"
region = "US"

[outputs."orders.us.v1".categories]
"identity.name" = "keep"

[outputs."orders.xx.v1"]
source = "orders.v1"
purpose = "support"
region = "XX"
"""


def policy_text() -> str:
    text = (REPO / "deploy" / "policy.toml").read_text(encoding="utf-8")
    start, end = text.index("[transfers]"), text.index("# Consent (policy sections 6")
    return text[:start] + TRANSFERS + text[end:] + OUTPUTS


@pytest.fixture
def worker(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Worker]:
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_text(), encoding="utf-8")
    worker = Worker(broker.bootstrap, unique_prefix("transfers"), tmp_path, LETHE_POLICY=str(policy)).start()
    try:
        yield worker
    finally:
        worker.stop()


def order(examples_dir: Path, customer: str, country: str, n: int) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((examples_dir / "orders.v1.json").read_text(encoding="utf-8"))
    record["customer_id"], record["event_id"], record["order_id"] = customer, f"ev-{n}", f"ORD-{n}"
    record["customer"]["name"] = f"Name Of {customer.title()}"
    record["shipping_address"]["country"] = country
    return record


def test_eu_records_are_pseudonymized_to_the_us_blocked_to_xx_counted_and_audited(
        broker: EmbeddedBroker, worker: Worker, examples_dir: Path) -> None:
    prefix, bootstrap = worker.prefix, broker.bootstrap
    orders = [order(examples_dir, "cust-eu", "DE", 1), order(examples_dir, "cust-eu", "FR", 2),
              order(examples_dir, "cust-us", "US", 3)]
    publish(bootstrap, [(prefix + "orders.v1", o["customer_id"].encode(), json.dumps(o).encode()) for o in orders])

    def metric(output: str, origin: str, destination: str, decision: str) -> float:
        return worker.metric("lethe_transfers_total", output=prefix + output, origin=origin,
                             destination=destination, decision=decision)

    wait_for(lambda: metric("orders.xx.v1", "EU", "XX", "block") == 2, 90, "the blocked EU transfers")
    assert metric("orders.anonymized.v1", "EU", "EU", "allow") == 2
    assert metric("orders.anonymized.v1", "US", "EU", "allow") == 1
    assert metric("orders.us.v1", "EU", "US", "pseudonymize") == 2
    assert metric("orders.us.v1", "US", "US", "allow") == 1
    assert metric("orders.xx.v1", "US", "XX", "allow") == 1
    assert metric("orders.xx.v1", "US", "XX", "block") == 0
    # series of every decision an output can meet exist from start-up
    series = f'decision="block",destination="EU",origin="XX",output="{prefix}orders.anonymized.v1"'
    assert f"lethe_transfers_total{{{series}}} 0.0" in worker.metrics_text()

    us = [json.loads(r.value or b"{}") for r in read(bootstrap, [prefix + "orders.us.v1"], expect=3, timeout=60)]
    xx = [json.loads(r.value or b"{}") for r in read(bootstrap, [prefix + "orders.xx.v1"], expect=3, timeout=10)]
    assert [r["order_id"] for r in xx] == [orders[2]["order_id"]], "only the US record reaches XX"
    assert len(us) == 3
    us_record = next(r for r in us if r["order_id"] == orders[2]["order_id"])   # kept: transaction.order
    assert us_record["customer"]["name"] == "Name Of Cust-Us"          # US to US: the output's own plan
    pseudonymized = [r for r in us if r is not us_record]
    raw = json.dumps(pseudonymized)
    for o in orders[:2]:
        for value in (o["customer"]["name"], o["order_id"], o["shipping_address"]["street"], o["tracking_number"]):
            assert value not in raw, "a raw personal value reached the US"
    assert all(r["lethe"]["tags"]["customer.name"] == "identity.name:pseudonym" for r in pseudonymized)
    assert all(r["customer"]["name"] for r in pseudonymized)

    audits = [json.loads(r.value or b"{}") for r in read(bootstrap, [prefix + "privacy.audit.v1"], timeout=30,
                                                          idle=5)]
    transfers = [a for a in audits if a["action"].startswith("transfer_")]
    assert {(a["action"], a["subject"], a["details"]["output"]) for a in transfers} == {
        ("transfer_pseudonymized", "cust-eu", prefix + "orders.us.v1"),
        ("transfer_blocked", "cust-eu", prefix + "orders.xx.v1")}
    for action in ("transfer_pseudonymized", "transfer_blocked"):
        assert sum(int(a["details"]["records"]) for a in transfers if a["action"] == action) == 2
    blocked = next(a for a in transfers if a["action"] == "transfer_blocked")
    assert blocked["rule"] == "transfers.EU.XX" and blocked["details"]["origin"] == "EU"
    assert blocked["details"]["destination"] == "XX" and blocked["details"]["safeguard"] == "none"
    # once per batch and subject: at most one entry per batch, never one per record
    assert len(transfers) <= 4
