"""Avro single-object consent, hold and request events are accepted end to end, like JSON ones, and a bad
ack is dead-lettered with the same headers as a bad order (one decode path for every topic Lethe reads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO, Worker, unique_prefix, wait_for

from streams.broker import EmbeddedBroker
from streams.client import publish, read
from streams.requests import read_request_state
from streams.settings import Settings

pytestmark = pytest.mark.integration

LETHE = str(Path(sys.executable).parent / "lethe")
SUBJECT = "cust-avro-1"


def publish_avro(env: dict[str, str], tmp_path: Path, topic: str, event: dict[str, Any]) -> None:
    """As an upstream team would: ``lethe publish TOPIC FILE --encoding avro``."""
    path = tmp_path / f"{topic}.json"
    path.write_text(json.dumps(event))
    done = subprocess.run([LETHE, "publish", topic, str(path), "--encoding", "avro"], env=env, cwd=REPO,
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_avro_consent_hold_and_request_are_accepted_and_a_bad_ack_is_dead_lettered(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    prefix = unique_prefix("avroin")
    worker = Worker(broker.bootstrap, prefix, tmp_path).start()
    env = {**worker.env, "LETHE_METRICS_PORT": "0"}
    try:
        publish_avro(env, tmp_path, "consent.v1", {
            "event_id": "c-avro-1", "occurred_at": "2026-11-20T10:00:00Z", "customer_id": SUBJECT,
            "purpose": "marketing", "granted": True, "policy_version": "2026-11-01", "source": "api"})
        publish_avro(env, tmp_path, "legal-holds.v1", {
            "hold_id": "hold-avro-1", "action": "place", "occurred_at": "2026-11-21T09:30:00Z",
            "customer_id": SUBJECT, "order_id": None, "case_ref": "LIT-AVRO"})
        publish_avro(env, tmp_path, "privacy-requests.v1", {
            "request_id": "req-avro-1", "occurred_at": "2026-11-21T09:15:00Z", "customer_id": SUBJECT,
            "type": "restrict", "details": {}, "channel": "api"})
        publish(broker.bootstrap, [(prefix + "lifecycle.acks.v1", SUBJECT.encode(),
                                    json.dumps({"command_id": "c-1", "store": "shop-db"}).encode())])

        wait_for(lambda: worker.metric("lethe_consent_decisions_total") == 1, 30, "the Avro consent")
        wait_for(lambda: worker.metric("lethe_legal_holds_active") == 1, 30, "the Avro hold")
        state = wait_for(lambda: read_request_state(broker.bootstrap, Settings.from_env(env), "req-avro-1"), 30,
                         "the Avro request")
        assert (state["type"], state["status"], state["subject"]) == ("restrict", "completed", SUBJECT)

        wait_for(lambda: worker.metric("lethe_records_dead_lettered_total", topic=prefix + "lifecycle.acks.v1",
                                       rule="required") == 1, 30, "the bad ack dead-lettered")
        dead = list(read(broker.bootstrap, [prefix + "dlq.v1"], timeout=30, idle=2.0))
        assert len(dead) == 1, [r.headers for r in dead]   # the ack only: every Avro event was accepted
        headers = {k: v.decode() for k, v in dead[0].headers.items()}
        assert headers["source_topic"] == prefix + "lifecycle.acks.v1"
        assert (headers["rule"], headers["field_path"], headers["encoding"]) == ("required", "status", "json")
        assert {"source_partition", "source_offset", "reason", "failed_at"} <= headers.keys()

        audit = [json.loads(r.value or b"") for r in read(broker.bootstrap, [prefix + "privacy.audit.v1"],
                                                          timeout=20, idle=1.5)]
        actions = {e["action"] for e in audit if e["subject"] == SUBJECT}
        assert {"consent", "hold_place", "request_received", "gate"} <= actions
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
