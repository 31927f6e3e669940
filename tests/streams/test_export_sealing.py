"""Exports sealed per request and the erasure receipt, end to end (issue 15 items 2 and 3): a worker
and a store agent on the embedded broker. Export parts on privacy.exports.v1 are ciphertext;
`lethe request export` opens them with the request's key, which is then destroyed (written, its time
up, or the subject erased), leaving the topic's copies unreadable; an erasure's `lethe request status`
shows its receipt, with a date for every raw topic."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support import FakeClock, wait_for
from test_requests import Stack, lethe

from processors.exportkeys import ExportUnreadable, new_key_pair, open_part
from processors.time import parse_time
from streams.broker import EmbeddedBroker
from streams.client import read

pytestmark = pytest.mark.integration

TTL_S = 15   # on the worker's fake clock: the test moves it past the time, nothing races a real one


def file(stack: Stack, request_type: str, customer: str) -> str:
    result = lethe(stack.env, "request", request_type, "--customer", customer)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.decode().split()[0]


def state_when(stack: Stack, request_id: str, test: Any, what: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def ready() -> bool:
        state = stack.state(request_id)
        found[:] = [state] if state is not None else []
        return state is not None and bool(test(state))
    wait_for(ready, 60, what)
    return found[0]


def parts_of(stack: Stack, request_id: str) -> list[tuple[bytes, dict[str, Any]]]:
    records = read(stack.bootstrap, [stack.prefix + "privacy.exports.v1"], timeout=20, idle=1.5)
    parts = [(r.value or b"", json.loads(r.value or b"{}")) for r in records]
    return [(raw, part) for raw, part in parts if part["request_id"] == request_id]


def test_exports_are_sealed_and_an_erasure_leaves_a_receipt(broker: EmbeddedBroker, tmp_path: Path) -> None:
    # behind real time, so the store agent's acks (real clock) never precede what the worker dates
    clock = FakeClock(tmp_path / "clock", time.time() - 120)
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "sealed", clock=clock)
    policy = Path(stack.worker.env["LETHE_POLICY"])
    text = policy.read_text()
    assert 'export_key_ttl = "3d"' in text
    policy.write_text(text.replace('export_key_ttl = "3d"', f'export_key_ttl = "{TTL_S}s"'))
    stack.worker.start()
    stack.start("sink", "store-agent")
    a, b = stack.traffic.people[:2]
    try:
        stack.send("orders.v1", [stack.traffic.order(a), stack.traffic.order(a), stack.traffic.order(b)])
        stack.send("logs.v1", [stack.traffic.log(a), stack.traffic.log(b)])
        wait_for(lambda: (lambda o, lg: len(o) == 3 and len(lg) == 2)(*stack.rows()), 60, "rows")

        # an access export: its parts on the topic are ciphertext, opened by the request's key only
        first = file(stack, "access", a.customer_id)
        state = state_when(stack, first, lambda s: s["status"] == "completed", "the access export")
        key = state["export"]["private_key"]
        parts = parts_of(stack, first)
        assert len(parts) == state["export"]["parts"] == 3   # Lethe's, and shop-db's orders and logs
        for raw, _ in parts:
            for planted in (a.email, a.name, a.phone):
                assert planted.encode() not in raw
        opened = [open_part(key, part) for _, part in parts]
        assert any(a.email in part["document"] for part in opened)
        status = json.loads(lethe(stack.env, "request", "status", first).stdout)
        assert key not in json.dumps(status) and "private_key" not in status["export"]

        out = tmp_path / "exports"
        written = lethe(stack.env, "request", "export", first, "--out", str(out))
        assert written.returncode == 0, written.stderr[-2000:]
        assert a.email in (out / f"{first}.json").read_text()
        # written: the key is destroyed, the topic's copies cannot be opened any more
        gone = state_when(stack, first, lambda s: s["export"]["private_key"] is None, "the key destroyed")
        assert gone["export"]["key_destroyed_by"] == "written"
        again = lethe(stack.env, "request", "export", first, "--out", str(tmp_path / "again"))
        assert again.returncode != 0 and b"destroyed" in again.stderr
        with pytest.raises(ExportUnreadable):
            open_part(new_key_pair()[0], parts[0][1])

        # an export nobody writes: its key goes once its time is up
        unwritten = file(stack, "access", b.customer_id)
        state_when(stack, unwritten, lambda s: s["status"] == "completed", "the unwritten export")
        clock.advance(TTL_S + 1)
        expired = state_when(stack, unwritten, lambda s: s["export"]["private_key"] is None, "the key's expiry")
        assert expired["export"]["key_destroyed_by"] == "expired"
        assert parse_time(expired["export"]["key_destroyed_at"]) - parse_time(expired["completed_at"]) > TTL_S

        # an erasure destroys the keys of the subject's exports and leaves a receipt
        pending = file(stack, "access", a.customer_id)
        state_when(stack, pending, lambda s: s["status"] == "completed", "the second export")
        erasure = file(stack, "erase", a.customer_id)
        status_run = lethe(stack.env, "request", "status", erasure, "--wait", "60")
        assert status_run.returncode == 0, status_run.stderr[-2000:]
        receipt = json.loads(status_run.stdout)["receipt"]
        assert receipt["status"] == "completed"
        shop = receipt["stores"]["shop-db"]
        assert list(receipt["stores"]) == ["shop-db"] and shop["status"] == "deleted"
        assert parse_time(shop["acked_at"]) >= parse_time(receipt["erased_at"])
        assert receipt["secret"]["destroyed"] is True and len(receipt["secret"]["partitions"]) == 1
        assert pending in receipt["exports"]["keys_destroyed"]
        assert stack.state(pending)["export"]["key_destroyed_by"] == "erasure"   # type: ignore[index]
        assert "unreadable" in receipt["dlq"]
        assert set(receipt["anonymized_outputs"]) == {stack.prefix + t for t in ("orders.anonymized.v1",
                                                                                 "logs.anonymized.v1")}
        raw = receipt["raw_topics"]
        for topic in ("orders.v1", "logs.v1"):
            entry = raw[stack.prefix + topic]
            assert entry["retention"] == "7d"
            assert parse_time(entry["last_record_expires_by"]) - parse_time(receipt["erased_at"]) == 7 * 86_400
        assert raw[stack.prefix + "consent.v1"]["last_record_expires_by"] is None   # kept: and it says why
        assert raw[stack.prefix + "consent.v1"]["kept_because"]
        # the completion audit record carries the same receipt
        [completion] = [e for e in stack.audit() if e["request_id"] == erasure and e["action"] == "completion"]
        assert json.loads(completion["details"]["receipt"])["raw_topics"] == raw
    finally:
        stack.stop()
