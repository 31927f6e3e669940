"""`lethe discover` on the sample traffic of the two canonical topics reproduces their shipped schemas:
the same category on every field path, no category where the shipped schema has none, and the same
``format`` and ``scan`` attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from discover_cases import attributes, shipped_fields
from support import REPO

from processors.discover.propose import discover
from processors.discover.schema import build_schema
from processors.discover.stanza import output_fields, output_topic
from processors.policy import Policy
from processors.sample import Traffic


@pytest.mark.parametrize("topic", ["orders.v1", "logs.v1"])
def test_discover_reproduces_the_shipped_schema(topic: str, examples_dir: Path) -> None:
    traffic = Traffic(examples_dir, subjects=100, seed=11)
    make = traffic.order if topic == "orders.v1" else traffic.log
    records = [make() for _ in range(1000)]
    result = discover(records, topic)
    proposed = dict(shipped_fields(build_schema(result)["fields"]))
    shipped = dict(shipped_fields(json.loads((REPO / "schemas" / f"{topic}.avsc").read_text())["fields"]))
    assert proposed.keys() == shipped.keys()
    differences = {path: (attributes(proposed[path]), attributes(field)) for path, field in shipped.items()
                   if attributes(proposed[path]) != attributes(field)}
    assert differences == {}
    assert not result.review
    subject = "customer_id"
    assert result.source["subject"] == subject and result.source["event_time"] == "occurred_at"
    if topic == "orders.v1":
        assert result.source == {"subject": subject, "event_time": "occurred_at", "kind": "records",
                                 "record_id": "order_id", "status": "event_type",
                                 "date_of_birth": "customer.date_of_birth"}
    else:
        assert result.source == {"subject": subject, "event_time": "occurred_at", "kind": "events",
                                 "record_id": "event_id"}


@pytest.mark.parametrize("topic", ["orders.v1", "logs.v1"])
def test_the_suggested_output_is_the_shipped_one(topic: str, examples_dir: Path, default_policy: Policy) -> None:
    traffic = Traffic(examples_dir, subjects=100, seed=12)
    make = traffic.order if topic == "orders.v1" else traffic.log
    result = discover([make() for _ in range(500)], topic)
    fields = {path: strategy for path, (strategy, _) in
              output_fields(build_schema(result), default_policy.categories).items()}
    shipped = default_policy.outputs[output_topic(topic)]
    assert fields == shipped.fields
    assert shipped.source == topic
