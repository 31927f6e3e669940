"""`lethe schemas`: the start-up checks without a broker, and the derived output schemas as files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fastavro
import pytest
from support import REPO
from tickets import SCHEMA, STANZA

from streams.cli import main


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "tickets.v1.avsc").write_text(json.dumps(SCHEMA))
    policy = tmp_path / "policy.toml"
    policy.write_text((REPO / "deploy" / "policy.toml").read_text() + STANZA)
    for name in list(os.environ):
        if name.startswith("LETHE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LETHE_POLICY", str(policy))
    monkeypatch.setenv("LETHE_SCHEMAS_DIR", str(schemas))
    monkeypatch.setenv("LETHE_DATA_DIR", str(tmp_path / "data"))
    return schemas


def test_the_outputs_schemas_are_written(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas"]) == 0
    written = json.loads((user / "tickets.anonymized.v1.avsc").read_text())
    fastavro.parse_schema(written)
    assert written["fields"][-1]["name"] == "lethe"
    assert {"orders.anonymized.v1.avsc", "logs.anonymized.v1.avsc"} <= {p.name for p in user.iterdir()}
    assert "3 sources, 3 outputs and 2 partners check out" in capsys.readouterr().err
    assert main(["schemas"]) == 0   # again: up to date
    assert "is up to date" in capsys.readouterr().err


def test_a_changed_file_is_not_overwritten_without_force(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (user / "tickets.anonymized.v1.avsc").write_text('{"type": "record", "name": "Old", "fields": []}')
    assert main(["schemas"]) == 2
    assert "differs from the derivation; pass --force" in capsys.readouterr().err
    assert main(["schemas", "--force"]) == 0
    assert json.loads((user / "tickets.anonymized.v1.avsc").read_text())["name"] == "TicketEvent"


def test_a_bad_declaration_stops_it(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = Path(os.environ["LETHE_POLICY"])
    policy.write_text(policy.read_text().replace('subject = "reporter.id"', 'subject = "reporter.uid"'))
    assert main(["schemas"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'sources."tickets.v1".subject' in err and "reporter.uid" in err
