"""The README's "Your own topics" walk-through, run as written: discover a topic of another shape
from a JSON-lines sample, declare it, run a worker on it, and find none of its personal values in
the anonymized output (or anywhere in what the walk-through printed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loyalty import SAMPLE, leaked, lines, personal_values
from support import REPO, unique_prefix
from walkthrough import block, run, with_free_ports

from streams.broker import EmbeddedBroker
from streams.client import read

pytestmark = pytest.mark.integration


def test_the_your_own_topics_walk_through_runs_as_written(tmp_path: Path) -> None:
    script = block("README.md", "lethe discover loyalty.v1")
    assert script.strip().splitlines()[-1].startswith("kill $(jobs -p)")
    code, text, all_gone = run(with_free_ports(script, ("9094", "9127", "9128")), tmp_path)
    assert code == 0, text[-4000:]
    home = tmp_path / "clone" / ".lethe"
    # discover wrote the schema and the stanza, and the stanza names the member as the subject
    schema = json.loads((home / "my-schemas" / "loyalty.v1.avsc").read_text())
    assert schema["name"] and any(field["name"] == "mitglied" for field in schema["fields"])
    stanza = (home / "my-schemas" / "loyalty.v1.policy.toml").read_text()
    assert '[sources."loyalty.v1"]' in stanza and 'subject = "mitglied.mitgliedsnummer"' in stanza, stanza
    assert '[outputs."loyalty.anonymized.v1"]' in stanza, stanza
    # the start-up checks and the worker took the new source
    assert "3 sources, 3 outputs and 2 partners check out" in text, text[-4000:]
    assert "loyalty.anonymized.v1" in text and "policy .lethe/my-policy.toml" in text, text[-4000:]
    # every sample event came out anonymized, tagged, keyed by a pseudonym
    sample = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    consumed = (home / "loyalty.anonymized.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in consumed.splitlines()]
    assert len(records) == len(sample) == 50, text[-4000:]
    members = {event["mitglied"]["mitgliedsnummer"] for event in sample}
    for record in records:
        value = json.loads(record["value"])
        tags = value["lethe"]["tags"]
        assert tags["mitglied.mitgliedsnummer"] == "identifier.customer:pseudonym", tags
        assert tags["mitglied.correo"] == "contact.email:drop" and tags["kommentar"].startswith("free_text:"), tags
        assert record["key"] == value["mitglied"]["mitgliedsnummer"] and record["key"] not in members
        member = value["mitglied"]
        assert member["vorname"] is member["nachname"] is member["correo"] is member["telefon"] is None, member
    # none of the sample's personal values anywhere: not in the output, not in what the commands printed
    values = set().union(*(personal_values(event) for event in sample))
    assert len(values) > 100
    got_through = leaked(values, consumed, text)
    assert not got_through, f"{len(got_through)} personal values of the sample got through, e.g. {got_through[:5]}"
    # the README's own check, and its last line stops everything it started
    assert "\n0\n" in text, text[-4000:]
    assert all_gone, "processes the README started were still running after its last line"


def test_publish_keys_a_declared_source_by_its_subject_path(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """The worker partitions a source's state by its subject: `lethe publish` must key by the same path."""
    lethe = str(Path(sys.executable).parent / "lethe")
    prefix = unique_prefix("owntopic")
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=prefix,
               LETHE_DATA_DIR=str(tmp_path), LETHE_SCHEMAS_DIR=str(tmp_path), LETHE_POLICY=str(tmp_path / "p.toml"))

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([lethe, *args], env=env, cwd=REPO, capture_output=True, timeout=120, check=False)

    shipped = (REPO / "deploy" / "policy.toml").read_text()
    (tmp_path / "p.toml").write_text(shipped)
    assert cli("discover", "loyalty.v1", "--file", str(SAMPLE), "--out", str(tmp_path)).returncode == 0
    (tmp_path / "p.toml").write_text(shipped + (tmp_path / "loyalty.v1.policy.toml").read_text())
    assert cli("topics", "create").returncode == 0
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:3]
    (tmp_path / "three.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    published = cli("publish", "loyalty.v1", str(tmp_path / "three.jsonl"))
    assert published.returncode == 0, published.stderr
    overridden = cli("publish", "loyalty.v1", str(tmp_path / "three.jsonl"), "--key-field", "geraet_id")
    assert overridden.returncode == 0, overridden.stderr
    keys = sorted(record.key or b"" for record in read(broker.bootstrap, [prefix + "loyalty.v1"], expect=6, timeout=30))
    events = [json.loads(line) for line in lines]
    assert keys == sorted([e["mitglied"]["mitgliedsnummer"].encode() for e in events]
                          + [e["geraet_id"].encode() for e in events])


def test_the_shipped_sample_is_what_its_generator_writes() -> None:
    assert SAMPLE.read_text(encoding="utf-8") == "\n".join(lines()) + "\n", "regenerate: python tests/loyalty.py"
