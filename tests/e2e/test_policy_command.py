"""`lethe policy check` and `lethe policy explain` run as a user runs them, without a broker: the
shipped policy, a broken draft, a topic of one's own proposed by `lethe discover`, the README's
walk-through as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from loyalty import SAMPLE
from support import REPO
from walkthrough import block, run

from processors.policy import load_policy
from processors.time import iso, parse_time

POLICY = REPO / "deploy" / "policy.toml"


def lethe(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No LETHE_ setting but a data directory of the test's own (which must stay empty: no key file)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LETHE_")}
    return dict(clean, LETHE_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO))


def test_check_of_the_shipped_policy_names_what_it_declares(env: dict[str, str], tmp_path: Path) -> None:
    done = lethe("policy", "check", env=env)
    assert done.returncode == 0, done.stderr
    policy = load_policy(POLICY)
    assert f"policy {POLICY} (version {policy.version}): no problems" in done.stdout
    for name in [*policy.sources, *policy.outputs, *policy.partners, *policy.retention]:
        assert name in done.stdout, name
    assert "not checked" not in done.stdout
    assert not (tmp_path / "data").exists()   # nothing written, no key file made
    report = json.loads(lethe("policy", "check", "--json", env=env).stdout)
    assert report["ok"] is True and report["problems"] == [] and len(report["checked"]) == 3


def test_check_of_a_draft_lists_every_problem_naming_its_entry(env: dict[str, str], tmp_path: Path) -> None:
    draft = tmp_path / "draft.toml"
    draft.write_text(POLICY.read_text().replace('purpose = "order_fulfilment"', 'purpose = ""')
                     .replace('"device.model" = "drop"', '"device.model" = "smudge"'))
    done = lethe("policy", "check", str(draft), env=env)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"policy {draft}: 2 problems"
    assert lines[1].startswith("  outputs.\"logs.anonymized.v1\".fields.\"device.model\" = 'smudge'"), lines
    assert lines[2].startswith('  partners."parcelco".purpose: missing'), lines
    assert "not checked until the problems above are fixed:" in lines
    report = json.loads(lethe("policy", "check", str(draft), "--json", env=env).stdout)
    assert report["ok"] is False and len(report["problems"]) == 2 and len(report["not_checked"]) == 2
    missing = lethe("policy", "check", str(tmp_path / "nope.toml"), env=env)
    assert missing.returncode == 2 and f"{tmp_path / 'nope.toml'}: no such file" in missing.stderr


def test_explain_of_the_example_order(env: dict[str, str]) -> None:
    done = lethe("policy", "explain", "--topic", "orders.v1", env=env)
    assert done.returncode == 0, done.stderr
    assert "is valid (subject customer_id)" in done.stdout and "made for this run only" in done.stdout
    email_row = next(line for line in done.stdout.splitlines() if line.strip().startswith("customer.email"))
    assert email_row.split()[1:4] == ["contact.email", "drop", '"alice@example.com"'], email_row
    explained: dict[str, Any] = json.loads(lethe("policy", "explain", "--topic", "orders.v1", "--json", env=env).stdout)
    assert explained["valid"] and explained["event"].endswith("orders.v1.json")
    policy = load_policy(POLICY)
    assert [d["topic"] for d in explained["destinations"]] == [o.topic for o in policy.outputs_for("orders.v1")]


def test_explain_of_an_invalid_event_gives_its_dead_letter_reason(env: dict[str, str], tmp_path: Path) -> None:
    event = json.loads((REPO / "schemas" / "examples" / "logs.v1.json").read_text())
    event["status_code"] = "teapot"
    path = tmp_path / "log.json"
    path.write_text(json.dumps(event))
    done = lethe("policy", "explain", "--topic", "logs.v1", str(path), env=env)
    assert done.returncode == 1, done.stderr
    assert "dead-letters it to dlq.v1" in done.stdout and "field_path  status_code" in done.stdout
    assert "teapot" not in done.stdout   # the reason names the rule and the path, never the value
    unknown = lethe("policy", "explain", "--topic", "orders.v2", env=env)
    assert unknown.returncode == 2 and "not a source of" in unknown.stderr


def test_a_topic_of_ones_own_proposed_by_discover(env: dict[str, str], tmp_path: Path) -> None:
    """LETHE_SCHEMAS_DIR and LETHE_POLICY honoured; a nested event from a JSON-lines file, by --index."""
    schemas = tmp_path / "schemas"
    proposed = lethe("discover", "loyalty.v1", "--file", str(SAMPLE), "--out", str(schemas), env=env)
    assert proposed.returncode == 0, proposed.stderr
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text() + (schemas / "loyalty.v1.policy.toml").read_text())
    own = dict(env, LETHE_SCHEMAS_DIR=str(schemas), LETHE_POLICY=str(policy))
    checked = lethe("policy", "check", env=own)
    assert checked.returncode == 0 and "loyalty.anonymized.v1 from loyalty.v1" in checked.stdout, checked.stdout
    done = lethe("policy", "explain", "--topic", "loyalty.v1", str(SAMPLE), "--index", "3", "--json", env=own)
    assert done.returncode == 0, done.stderr
    explained = json.loads(done.stdout)
    third = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[2])
    assert explained["event"] == f"{SAMPLE}, event 3 of 50" and explained["subject"] == "mitglied.mitgliedsnummer"
    rows = {r["path"]: r for r in explained["destinations"][0]["fields"]}
    assert rows["mitglied.correo"]["value"] == third["mitglied"]["correo"]
    assert (rows["mitglied.correo"]["strategy"], rows["mitglied.correo"]["result"]) == ("drop", None)
    assert rows["mitglied.anschrift.plz"]["value"] == third["mitglied"]["anschrift"]["plz"]
    assert rows["kommentar"]["category"] == "free_text"
    no_example = lethe("policy", "explain", "--topic", "loyalty.v1", env=own)
    assert no_example.returncode == 2 and "no example event for loyalty.v1" in no_example.stderr


def test_the_readme_walk_through_runs_as_written(tmp_path: Path) -> None:
    script = block("README.md", "lethe policy check .lethe/draft-policy.toml")
    code, text, all_gone = run(script, tmp_path, timeout=120)
    assert code == 0, text[-4000:]
    assert "deploy/policy.toml (version" in text and "no problems" in text
    assert "policy .lethe/draft-policy.toml: 3 problems" in text, text[-4000:]
    for entry in ('outputs."orders.anonymized.v1".consent', 'partners."parcelco".basis', 'partners."paynow".basis'):
        assert f"  {entry}" in text, entry
    assert text.count("exit 1") == 2, text[-4000:]
    assert "orders.anonymized.v1 (purpose analytics), keyed by the subject's pseudonym" in text
    explained = json.loads((tmp_path / "clone" / ".lethe" / "explained.json").read_text())
    rule = load_policy(POLICY).retention["orders-completed"]
    occurred = json.loads((REPO / "schemas" / "examples" / "orders.v1.json").read_text())["occurred_at"]
    assert explained["deadlines"] == [{"rule": rule.name, "action": rule.action, "record_key": "ORD-2026-000123",
                                       "due": iso(parse_time(occurred) + rule.after_seconds),
                                       "categories": list(rule.categories)}]
    assert "dead-letters it to dlq.v1" in text and "rule        required" in text
    assert all_gone
