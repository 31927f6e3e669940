"""Portability end to end (issue 13 item 8): worker, reference sink and store agent on the embedded
broker, the store on SQLite and on PostgreSQL. A portability export holds what the subject provided
(the columns the store maps to the categories orders.v1 marks provided, the order ids, the consent
choices), as JSON and one CSV file per table; an access export of the same subject still holds everything."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from support import store_database, wait_for
from test_requests import Stack, consent_event, lethe

from streams.broker import EmbeddedBroker

pytestmark = pytest.mark.integration

# deploy/store-mapping.toml's columns of the categories orders.v1 marks provided, and its key column
PROVIDED = ["order_id", "customer_name", "customer_email", "customer_phone", "shipping_street", "shipping_city",
            "shipping_postcode", "notes"]
CHOICE = ["occurred_at", "purpose", "granted", "source", "policy_version"]


def export(stack: Stack, out: Path, request_type: str, customer: str, *extra: str) -> tuple[dict[str, Any], str]:
    result = lethe(stack.env, "request", request_type, "--customer", customer, "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    request_id = result.stdout.decode().splitlines()[0].strip()
    text = (out / f"{request_id}.json").read_text(encoding="utf-8")
    return json.loads(text), text


def read_csv(path: Path) -> list[list[str]]:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert b"\r\n" in raw   # RFC 4180 line ends
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_portability_exports_what_the_subject_provided(broker: EmbeddedBroker, tmp_path: Path, kind: str) -> None:
    with store_database(kind, tmp_path) as url:
        stack = Stack(broker, tmp_path, url, f"portability-{kind}")
        stack.worker.start()
        stack.start("sink", "store-agent")
        a, b = stack.traffic.people[:2]
        try:
            a_orders = [stack.traffic.order(a) for _ in range(2)]
            stack.send("orders.v1", [*a_orders, stack.traffic.order(b)])
            stack.send("logs.v1", [stack.traffic.log(a), stack.traffic.log(b)])
            stack.send("consent.v1", [consent_event(a.customer_id, "marketing", True, "2026-11-20T10:00:00Z"),
                                      consent_event(a.customer_id, "marketing", False, "2026-11-21T10:00:00Z"),
                                      consent_event(b.customer_id, "marketing", True, "2026-11-20T10:00:00Z")])
            wait_for(lambda: (lambda o, lg: len(o) == 3 and len(lg) == 2)(*stack.rows()), 60, "rows")
            wait_for(lambda: stack.worker.metric("lethe_consent_decisions_total") == 3, 30, "the consents")
            out = tmp_path / "exports"
            document, text = export(stack, out, "portability", a.customer_id)
            request_id = document["request"]["request_id"]
            assert document["format"] == "lethe.export.v2" and document["request"]["type"] == "portability"
            assert document["request"]["subject"] == a.customer_id

            # the stores: the provided columns of a's orders, nothing of the logs (observed, not provided)
            assert list(document["stores"]) == ["shop-db"] and list(document["stores"]["shop-db"]) == ["orders"]
            rows = sorted(document["stores"]["shop-db"]["orders"], key=lambda r: r["order_id"])
            assert [list(r) for r in rows] == [["table", *PROVIDED]] * 2
            sent = sorted(a_orders, key=lambda o: o["order_id"])
            assert [r["order_id"] for r in rows] == [o["order_id"] for o in sent]
            for row, order in zip(rows, sent, strict=True):
                assert (row["customer_email"], row["customer_phone"], row["notes"], row["shipping_city"]) == (
                    order["customer"]["email"], order["customer"]["phone"], order["notes"],
                    order["shipping_address"]["city"])
            # Lethe's part: the consent choices, not its own decisions about the subject
            choices = document["lethe"]["consent_choices"]
            assert list(document["lethe"]) == ["consent_choices"]
            assert [(c["purpose"], c["granted"]) for c in choices] == [("marketing", True), ("marketing", False)]
            for absent in ("total_amount", "payment_status", "currency", "legal_holds", "pending_deadlines",
                           b.customer_id, b.email, b.name):
                assert absent not in text

            # the same as CSV, one file per table, the owner's only
            folder = out / request_id
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert sorted(p.name for p in folder.iterdir()) == ["lethe.consent_choices.csv", "shop-db.orders.csv"]
            table = read_csv(folder / "shop-db.orders.csv")
            assert table[0] == PROVIDED
            assert sorted(table[1:]) == [[str(r[c] or "") for c in PROVIDED] for r in rows]
            assert read_csv(folder / "lethe.consent_choices.csv") == [
                CHOICE, *[[str(c[k]).lower() if k == "granted" else c[k] for k in CHOICE] for c in choices]]
            audit = [e for e in stack.audit() if e["request_id"] == request_id]
            written = next(e for e in audit if e["action"] == "export_written")
            assert written["details"]["files"] == (f"{request_id}.json,{request_id}/lethe.consent_choices.csv,"
                                                   f"{request_id}/shop-db.orders.csv")
            assert {"export_requested", "export_ready", "completion"} <= {e["action"] for e in audit}

            # access: still every column, the logs, and Lethe's whole part; JSON only
            access, _ = export(stack, tmp_path / "access", "access", a.customer_id)
            access_rows = access["stores"]["shop-db"]
            assert {r["total_amount"] for r in access_rows["orders"]} == {o["total_amount"] for o in a_orders}
            assert [r["customer_id"] for r in access_rows["logs"]] == [a.customer_id]
            assert {"consent", "legal_holds", "requests", "recipients", "pending_deadlines"} <= set(access["lethe"])
            assert [p.name for p in (tmp_path / "access").iterdir()] == [f"{access['request']['request_id']}.json"]
            refused = lethe(stack.env, "request", "export", access["request"]["request_id"], "--out",
                            str(tmp_path / "access"), "--format", "csv")
            assert refused.returncode != 0 and b"portability exports" in refused.stderr
        finally:
            stack.stop()
