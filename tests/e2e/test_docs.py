"""The walk-throughs of docs/, run as written against the demo of the README, in a fresh directory.

They say they need the demo running (the README block that starts it) and run in that shell; the
test runs exactly that: the README's start block, the docs' blocks in reading order, and the
README's line that stops the demo. Each block is read from its document at test time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from walkthrough import block, run

pytestmark = pytest.mark.integration


def audit_lines(text: str, subject: str) -> list[dict[str, Any]]:
    """The audit records `lethe consume privacy.audit.v1 | grep '"key": "SUBJECT"'` printed."""
    return [json.loads(json.loads(line)["value"]) for line in text.splitlines()
            if line.startswith("{") and f'"key": "{subject}"' in line]


def status_views(text: str) -> list[dict[str, Any]]:
    """Every JSON status `lethe request status` printed (indented objects starting at column 0)."""
    return [json.loads(match) for match in re.findall(r"^\{\n.*?^\}$", text, re.S | re.M)]


def test_the_hold_and_request_walk_throughs_run_as_written(tmp_path: Path) -> None:
    stop = block("README.md", "request erase --customer cust-100003").strip().splitlines()[-1]
    assert stop.startswith("kill $DEMO"), stop
    script = "\n".join([block("README.md", "scripts/demo --keep-running"),
                        block("docs/retention.md", "lethe hold place"),
                        block("docs/rights.md", "lethe request erase"),
                        block("docs/rights.md", "lethe audit --customer cust-100005"),
                        stop])
    code, text, all_gone = run(script, tmp_path)
    home = tmp_path / "clone"
    demo_out = home / ".lethe" / "demo.out"
    assert code == 0, text[-5000:] + (demo_out.read_text(errors="replace")[-3000:] if demo_out.exists() else "")

    # holds: two placed, each id printed, both released with those ids, all audited
    placed = re.findall(r"lethe: hold (hold-\w+) placed", text)
    released = re.findall(r"lethe: hold (hold-\w+) released", text)
    assert len(placed) == 2 and sorted(released) == sorted(placed), text[-5000:]
    holds = audit_lines(text, "cust-100010")
    assert sorted((r["action"], r["details"]["hold_id"]) for r in holds) == sorted(
        [("hold_place", h) for h in placed] + [("hold_release", h) for h in placed]), holds

    # requests: every type accepted and completed
    filed = dict(re.findall(r"lethe: (\w+) request (req-[\w-]+) filed", text))
    assert set(filed) == {"erase", "access", "portability", "object", "restrict", "rectify", "withdraw_consent",
                          "minor_flag"}, text[-5000:]
    views = {view["request_id"]: view for view in status_views(text)}
    checked = [filed[t] for t in ("erase", "object", "restrict", "rectify", "withdraw_consent", "minor_flag")]
    assert "req-2026-11-000042" in views   # the example event, filed from its file
    for request_id in [*checked, "req-2026-11-000042"]:
        assert views[request_id]["status"] == "completed", views.get(request_id, text[-5000:])
    # both exports written, the owner's only, holding the subject's rows (portability: what it provided)
    orders = {}
    for kind in ("access", "portability"):
        path = home / ".lethe" / "exports" / f"{filed[kind]}.json"
        assert path.stat().st_mode & 0o777 == 0o600
        document = json.loads(path.read_text())
        assert document["request"]["type"] == kind and document["request"]["subject"] == "cust-100006"
        rows = document["stores"]["shop-db"]["orders"]
        orders[kind] = sorted(row["order_id"] for row in rows)
        assert rows and all(row["customer_id"] == "cust-100006" for row in rows if kind == "access"), document
        assert all("total_amount" not in row and row["customer_email"] for row in rows if kind == "portability")
    assert orders["access"] == orders["portability"]
    tables = home / ".lethe" / "exports" / filed["portability"]
    assert sorted(p.name for p in tables.iterdir()) == ["lethe.consent_choices.csv", "shop-db.orders.csv"]
    assert (tables / "shop-db.orders.csv").stat().st_mode & 0o777 == 0o600
    # the audit block: the erased subject's story, as a table and as JSON Lines
    story = [json.loads(line) for line in text.splitlines() if line.startswith('{"at": ')]
    erased = re.search(r"lethe: erase request (req-[\w-]+) filed", text)   # the first: cust-100005's
    assert erased, text[-5000:]
    steps = {e["action"] for e in story if e["kind"] == "request" and e["ref"] == erased[1]}
    assert {"request_received", "shred", "ack", "completion"} <= steps, story
    assert {"event", "command", "ack"} <= {e["kind"] for e in story}, story
    assert re.search(r"^TIME +KIND +WHAT +REF +DETAILS$", text, re.M), text[-5000:]
    # the README's last line stops the demo and everything it started
    assert all_gone, "processes the walk-throughs started were still running after the demo was stopped"
