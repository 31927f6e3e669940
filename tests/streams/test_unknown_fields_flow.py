"""Unknown fields on a real worker (issue 13 item 5): an upstream team adds fields the schema does not
know yet; they reach no output, are counted per path, and the one holding a phone number is audited
once per batch, naming the path and the category and never the value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import REPO, Worker, unique_prefix, wait_for

from streams.broker import EmbeddedBroker
from streams.client import publish, read

pytestmark = pytest.mark.integration

PHONE = "+44 7700 900461"


def order(n: int) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO / "schemas" / "examples" / "orders.v1.json").read_text())
    event.update(event_id=f"evt-unknown-{n}", order_id=f"ORD-U-{n}", customer_id=f"cust-unknown-{n}")
    event["customer"]["mobile"] = PHONE              # personal data where the schema does not look
    event["channel"] = "web"                         # not personal
    event[f"{n}@example.com"] = True                 # a key that is itself personal: never a label
    return event


def test_unknown_fields_are_dropped_counted_and_the_personal_one_audited(broker: EmbeddedBroker,
                                                                         tmp_path: Path) -> None:
    worker = Worker(broker.bootstrap, unique_prefix("unknown"), tmp_path).start()
    try:
        prefix = worker.prefix
        publish(broker.bootstrap, [(prefix + "orders.v1", f"cust-unknown-{n}".encode(), json.dumps(order(n)).encode())
                                   for n in range(3)])
        outputs = list(read(broker.bootstrap, [prefix + "orders.anonymized.v1"], expect=3, timeout=90))
        assert len(outputs) == 3, worker.log()[-3000:]
        for record in outputs:
            assert b"7700" not in (record.value or b"") and b"channel" not in (record.value or b"")
            assert b"example.com" not in (record.value or b"")
        wait_for(lambda: worker.metric("lethe_unknown_fields_total", topic=prefix + "orders.v1",
                                       path="customer.mobile") == 3, 30, "the unknown field counted")
        assert worker.metric("lethe_unknown_fields_total", topic=prefix + "orders.v1", path="channel") == 3
        assert worker.metric("lethe_unknown_fields_total", topic=prefix + "orders.v1", path="<unnamed>") == 3
        assert worker.metric("lethe_unknown_fields_personal_total", topic=prefix + "orders.v1",
                             path="customer.mobile", category="contact.phone") >= 1
        metrics = worker.metrics_text()
        assert PHONE not in metrics and "example.com" not in metrics

        audits = [json.loads(r.value or b"{}") for r in read(broker.bootstrap, [prefix + "privacy.audit.v1"],
                                                             timeout=10, idle=1.0)]
        found = [a for a in audits if a["action"] == "unknown_field"]
        assert found and {a["details"]["path"] for a in found} == {"customer.mobile"}
        assert {a["details"]["categories"] for a in found} == {"contact.phone"}
        assert sum(int(a["details"]["records"]) for a in found) == 3   # once per batch and path
        assert all(a["rule"] == "schema.unknown_field" for a in found)
        raw = json.dumps(audits)
        assert "7700" not in raw and "example.com" not in raw
        assert PHONE not in worker.log()
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
