"""`lethe discover` as a user runs it: on a JSON-lines file, and on a topic of the embedded broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from discover_cases import attributes, shipped_fields
from support import REPO, unique_prefix

from processors.sample import Traffic
from processors.schemas import _load_one
from processors.validate import compile_validator
from streams.broker import EmbeddedBroker
from streams.client import publish

LETHE = str(Path(sys.executable).parent / "lethe")


def lethe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LETHE, *args], env=env or dict(os.environ), cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def category_of(schema: dict[str, object], name: str) -> object:
    return next(field for field in schema["fields"] if field["name"] == name).get("category")  # type: ignore[attr-defined, union-attr]


def test_discover_a_json_lines_file(tmp_path: Path, examples_dir: Path) -> None:
    traffic = Traffic(examples_dir, subjects=30, seed=5)
    orders = [traffic.order() for _ in range(300)]
    source = tmp_path / "shop-orders.jsonl"
    source.write_text("\n".join(json.dumps(order) for order in orders))
    out = tmp_path / "proposal"
    result = lethe("discover", "--file", str(source), "--out", str(out), "--max-records", "250")
    assert result.returncode == 0, result.stderr
    assert "sampled 250 records" in result.stderr
    schema_file, policy_file = out / "shop-orders.avsc", out / "shop-orders.policy.toml"
    loaded = _load_one("shop-orders", schema_file)
    validate = compile_validator(loaded.raw)
    for order in orders:
        validate(order)
    assert category_of(loaded.raw, "customer_id") == "identifier.customer"
    policy = policy_file.read_text()
    assert '[sources."shop-orders"]' in policy and 'subject = "customer_id"' in policy
    assert "customer.email" in result.stdout and "contact.email" in result.stdout
    everything = result.stdout + result.stderr + schema_file.read_text() + policy
    for order in orders[:50]:   # no value of any sampled record is printed or written
        for value in (order["customer"]["email"], order["customer"]["name"], order["customer_id"], order["order_id"]):
            assert value not in everything

    again = lethe("discover", "--file", str(source), "--out", str(out))
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "--force" in again.stderr
    assert lethe("discover", "--file", str(source), "--out", str(out), "--force").returncode == 0


def test_discover_a_topic(broker: EmbeddedBroker, tmp_path: Path, examples_dir: Path) -> None:
    topic = unique_prefix("discover") + "weblogs"
    traffic = Traffic(examples_dir, subjects=30, seed=6)
    logs = [traffic.log() for _ in range(200)]
    publish(broker.bootstrap, [(topic, None, json.dumps(log).encode()) for log in logs]
            + [(topic, None, b"not json")])
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_METRICS_PORT="0")
    out = tmp_path / "proposal"
    result = lethe("discover", topic, "--out", str(out), "--max-seconds", "30", env=env)
    assert result.returncode == 0, result.stderr
    assert "sampled 200 records, skipped 1" in result.stderr
    schema = json.loads((out / f"{topic}.avsc").read_text())
    assert category_of(schema, "ip") == "network.ip"
    assert category_of(schema, "url") == "behavior.browsing"
    assert f'[sources."{topic}"]' in (out / f"{topic}.policy.toml").read_text()
    assert "1 record skipped" in result.stdout


def test_discover_without_a_topic_or_file_is_one_line(tmp_path: Path) -> None:
    result = lethe("discover", "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == "lethe: error: give a TOPIC to sample, or --file FILE.jsonl"


@pytest.mark.parametrize("topic", ["orders.v1", "logs.v1"])
def test_discover_on_published_sample_traffic_reproduces_the_shipped_schema(
        broker: EmbeddedBroker, tmp_path: Path, topic: str) -> None:
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_METRICS_PORT="0",
               LETHE_TOPIC_PREFIX=unique_prefix("sample"))
    published = lethe("publish", topic, "--sample", "300", env=env)
    assert published.returncode == 0, published.stderr
    result = lethe("discover", topic, "--out", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    proposed = dict(shipped_fields(json.loads((tmp_path / f"{topic}.avsc").read_text())["fields"]))
    shipped = dict(shipped_fields(json.loads((REPO / "schemas" / f"{topic}.avsc").read_text())["fields"]))
    assert {path: attributes(field) for path, field in proposed.items()} == \
        {path: attributes(field) for path, field in shipped.items()}
    assert "0 to review" in result.stdout
