"""The README's walk-throughs, run as written: its own shell blocks, in order, in a fresh directory.

The blocks are read from README.md at test time, so the test follows the README when it changes.
Only the fixed ports are swapped for free ones (a developer's machine may already use 9092 or
9108); every other character runs as a user would paste it (with `bash -e`: a failing line fails).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from walkthrough import block, run, with_free_ports

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not (shutil.which("sqlite3") and shutil.which("curl")),
                                 reason="the README's walk-throughs use sqlite3 and curl")]


def test_the_session_and_retention_walk_throughs_run_as_written(tmp_path: Path) -> None:
    script = block("README.md", "lethe broker --port 9092") + "\n" + block("README.md", "kill $WORKER")
    code, text, all_gone = run(with_free_ports(script, ("9092", "9107", "9108", "9110", "9111")), tmp_path)
    assert code == 0, text[-4000:]
    # the session: an anonymized order and the worker's metrics
    assert re.search(r'"tags\\?":', text), text[-4000:]
    assert re.search(r"^lethe_records_in_total\{topic=\"orders\.v1\"\} [1-9]", text, re.M), text[-4000:]
    # retention: the row as written, then anonymized on time, acked and audited
    assert "ORD-2026-000123|alice@example.com" in text, text[-4000:]
    assert re.search(r"^ORD-2026-000123\|$", text, re.M), text[-4000:]
    assert '\\"status\\": \\"applied\\"' in text, text[-4000:]
    assert '\\"action\\":\\"command\\"' in text, text[-4000:]
    # the last line stops everything the walk-through started
    assert all_gone, "processes the README started were still running after its last line"


def test_rights_requests_against_the_demo_run_as_written(tmp_path: Path) -> None:
    script = block("README.md", "scripts/demo --keep-running") + "\n" + \
        block("README.md", "request erase --customer cust-100003")
    code, text, all_gone = run(script, tmp_path)
    demo_out = tmp_path / "clone" / ".lethe" / "demo.out"
    assert code == 0, text[-4000:] + (demo_out.read_text(errors="replace")[-3000:] if demo_out.exists() else "")
    # the subject had orders; the erasure completed and the store agent deleted them
    counts = re.findall(r"^(\d+)$", text, re.M)
    assert len(counts) == 2 and int(counts[0]) > 0 and counts[1] == "0", text[-4000:]
    request_id = re.search(r"lethe: erase request (req-\w+) filed", text)
    assert request_id, text[-4000:]
    assert re.search(r'"request_id": "' + request_id[1] + r'",\s+"type": "erase",\s+"status": "completed"',
                     text), text[-4000:]
    # the access export exists, is the owner's only and holds the customer's rows
    exports = list((tmp_path / "clone" / ".lethe" / "exports").glob("req-*.json"))
    assert len(exports) == 1, text[-4000:]
    assert exports[0].stat().st_mode & 0o777 == 0o600
    document = json.loads(exports[0].read_text())
    assert document["request"]["subject"] == "cust-100004" and document["request"]["type"] == "access"
    rows = document["stores"]["shop-db"]["orders"]
    assert rows and all(row["customer_id"] == "cust-100004" for row in rows), document
    assert f"written to {exports[0]}" in text or exports[0].name in text, text[-4000:]
    # the audit trail of the erased subject: received, commands, acks, the shredded secret, completion
    audit = [json.loads(json.loads(line)["value"]) for line in text.splitlines()
             if line.startswith("{") and '"key": "cust-100003"' in line]
    actions = {record["action"] for record in audit}
    assert {"request_received", "command", "ack", "shred", "completion"} <= actions, actions
    # the last line stops the demo and everything it started; the demo leaves no env file behind
    assert all_gone, "processes the README started were still running after its last line"
    assert not (tmp_path / "clone" / ".lethe" / "demo.env").exists()


def test_the_privacy_officers_commands_against_the_demo_run_as_written(tmp_path: Path) -> None:
    script = block("README.md", "scripts/demo --keep-running") + "\n" + \
        block("README.md", "lethe audit --customer cust-100009")
    code, text, all_gone = run(script, tmp_path)
    home = tmp_path / "clone"
    demo_out = home / ".lethe" / "demo.out"
    assert code == 0, text[-4000:] + (demo_out.read_text(errors="replace")[-3000:] if demo_out.exists() else "")
    # the list: the erasure, completed, waiting for nobody; nothing overdue
    request_id = re.search(r"lethe: erase request (req-\w+) filed", text)
    assert request_id, text[-4000:]
    assert re.search(r"^REQUEST +TYPE +STATUS +RECEIVED +DUE +DUE IN +WAITING FOR$", text, re.M), text[-4000:]
    assert re.search(rf"^{request_id[1]} +erase +completed .* -$", text, re.M), text[-4000:]
    assert re.search(r"^\[\]$", text, re.M), text[-4000:]
    # the story, as a table and as JSON Lines, of this subject only
    assert re.search(r"^TIME +KIND +WHAT +REF +DETAILS$", text, re.M), text[-4000:]
    story = [json.loads(line) for line in (home / ".lethe" / "cust-100009.jsonl").read_text().splitlines()]
    assert {"event", "request", "command", "ack"} <= {e["kind"] for e in story}, story
    steps = [e["action"] for e in story if e["ref"] == request_id[1]]
    assert steps[0] == "request_received" and steps[-1] == "completion", steps
    table = text[text.index("TIME "):]
    assert not re.search(r"cust-1000(?!09)\d\d", table + json.dumps(story)), "another subject in the story"
    assert all_gone, "processes the README started were still running after its last line"
