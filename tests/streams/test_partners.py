"""Partners on a real worker (issue 12 item 2): each partner topic exists, carries only what the partner
declares in the derived Avro schema, and a consent-based partner stops receiving once consent is withdrawn."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from support import REPO, Worker, unique_prefix, wait_for

from processors.derive import derive_anonymized
from processors.partners import project_schema
from processors.policy import load_policy
from streams.broker import EmbeddedBroker
from streams.client import Record, publish, read
from streams.topics import admin_client

pytestmark = pytest.mark.integration

ADSCO = """
[partners.adsco]
source = "orders.v1"
purpose = "recommendations"
basis = "consent"
consent = "third_party_sharing"
region = "EU"
safeguard = "adequacy"

[partners.adsco.fields]
"order_id" = "pseudonym"
"total_amount" = "keep"
"""
CUSTOMER = "cust-partner-1"


@pytest.fixture
def worker(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Worker]:
    policy = tmp_path / "policy.toml"
    policy.write_text((REPO / "deploy" / "policy.toml").read_text() + ADSCO)
    started = Worker(broker.bootstrap, unique_prefix("partners"), tmp_path, LETHE_POLICY=str(policy),
                     LETHE_OUTPUT_ENCODING="avro").start()
    try:
        yield started
    finally:
        started.stop()


def order(n: int) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO / "schemas" / "examples" / "orders.v1.json").read_text())
    event.update(event_id=f"evt-partner-{n}", order_id=f"ORD-P-{n}", customer_id=CUSTOMER)
    return event


def consent(n: int, granted: bool) -> dict[str, Any]:
    return {"event_id": f"consent-partner-{n}", "occurred_at": f"2026-11-2{n}T10:00:00Z", "customer_id": CUSTOMER,
            "purpose": "third_party_sharing", "granted": granted, "policy_version": "2026-11-01", "source": "api"}


def decoded(records: list[Record], topic: str, policy_path: Path) -> list[dict[str, Any]]:
    policy = load_policy(policy_path)
    output = policy.outputs[topic]
    source = json.loads((REPO / "schemas" / "orders.v1.avsc").read_text())
    assert output.projection is not None
    schema = fastavro.parse_schema(project_schema(derive_anonymized(source, topic), output.projection,
                                                  output.partner))
    return [fastavro.schemaless_reader(io.BytesIO((r.value or b"")[10:]), schema, schema) for r in records]


def test_partners_get_their_projection_and_consent_withdrawal_stops_a_consent_partner(
        broker: EmbeddedBroker, worker: Worker) -> None:
    prefix, bootstrap = worker.prefix, broker.bootstrap
    policy_path = Path(worker.env["LETHE_POLICY"])
    admin = admin_client(bootstrap)
    try:
        topics = set(admin.list_topics())
    finally:
        admin.close()
    for name in ("parcelco", "paynow", "adsco"):   # the worker provisioned every partner's two topics
        assert {f"{prefix}partners.{name}.v1", f"{prefix}partners.{name}.commands.v1"} <= topics

    def send(topic: str, event: dict[str, Any]) -> None:
        publish(bootstrap, [(prefix + topic, CUSTOMER.encode(), json.dumps(event).encode())])

    send("consent.v1", consent(1, True))
    wait_for(lambda: worker.metric("lethe_consent_decisions_total") == 1, 60, "the grant")
    send("orders.v1", order(1))
    [shared] = list(read(bootstrap, [prefix + "partners.adsco.v1"], expect=1, timeout=90))
    [record] = decoded([shared], "partners.adsco.v1", policy_path)
    assert set(record) == {"order_id", "total_amount", "lethe"}
    assert record["order_id"] != "ORD-P-1" and shared.key not in (None, CUSTOMER.encode())

    send("consent.v1", consent(2, False))
    wait_for(lambda: worker.metric("lethe_consent_decisions_total") == 2, 60, "the withdrawal")
    send("orders.v1", order(2))
    parcels = list(read(bootstrap, [prefix + "partners.parcelco.v1"], expect=2, timeout=90))
    wait_for(lambda: worker.metric("lethe_records_gated_total", topic=prefix + "partners.adsco.v1",
                                   reason="consent_missing.third_party_sharing") == 1, 60, "the gated order")
    assert len(list(read(bootstrap, [prefix + "partners.adsco.v1"], expect=2, timeout=3))) == 1

    # the contract partners go on: parcelco gets name and address, keyed by order; paynow neither
    assert [r.key for r in parcels] == [b"ORD-P-1", b"ORD-P-2"]
    for parcel in decoded(parcels, "partners.parcelco.v1", policy_path):
        assert parcel["customer"] == {"name": order(1)["customer"]["name"]}
        assert parcel["shipping_address"] == order(1)["shipping_address"]
    pays = list(read(bootstrap, [prefix + "partners.paynow.v1"], expect=2, timeout=60))
    raw = b"".join(r.value or b"" for r in pays)
    assert order(1)["customer"]["name"].encode() not in raw
    assert order(1)["shipping_address"]["street"].encode() not in raw
    assert [set(p) for p in decoded(pays, "partners.paynow.v1", policy_path)] == [
        {"order_id", "event_type", "total_amount", "currency", "payment_status", "lethe"}] * 2
