"""`lethe policy check`: every problem of a stage at once, each naming its entry; later stages wait.

Each case edits the shipped policy as a policy author would (text replaced in deploy/policy.toml,
or a stanza appended) and lists the entries its problems must name, one problem per entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tickets import SCHEMA, STANZA

from processors.errors import PolicyError, PolicyProblems
from processors.policy import load_policy
from processors.policy_check import STAGES, check_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = (REPO / "deploy" / "policy.toml").read_text(encoding="utf-8")
SCHEMAS = REPO / "schemas"

# id, [(text of deploy/policy.toml, its replacement)], text appended, the stage with problems (0-2),
# the entries named (one problem each, in any order)
CASES: list[tuple[str, list[tuple[str, str]], str, int, list[str]]] = [
    ("an output and two partners",
     [('consent = ["analytics"]  ', 'consent = ["analytics", "newsletter"]  '),
      ('basis = "contract"', 'basis = "contractual"')], "", 0,
     ['outputs."orders.anonymized.v1".consent', 'partners."parcelco".basis', 'partners."paynow".basis']),
    ("top-level key, option and categories",
     [("mask_char = \"*\"", "mask_char = \"**\""), ('"contact.email" = "drop"', '"contact.email" = "shred"'),
      ('"device.info" = "keep"', '"device.info" = "keep"\n"device.shoe_size" = "drop"')],
     '\n[retnetion]\n', 0,
     ["unknown top-level key(s): retnetion", "options.mask_char", 'categories."contact.email" = \'shred\'',
      'categories."device.shoe_size": unknown data category']),
    ("a transfer rule and a retention rule",
     [('decision = "allow"\nsafeguard = "scc"', 'decision = "allow"\nsafeguard = "none"'),
      ('after = "90d"', 'after = "ninety days"')], "", 0,
     ["transfers.rules[3]", "transfers.rules[4]", "transfers.rules[5]", 'retention."logs".after']),
    # the output naming the broken source waits for it to be fixed; an output of another source does not
    ("a source, its output and an output of another source",
     [('kind = "events"               # one row', 'kind = "stream"               # one row'),
      ('"device.model" = "drop"', '"device.model" = "scramble"'),
      ('"tracking_number" = "mask"', '"tracking_number" = "scramble"')],
     STANZA, 0, ['sources."logs.v1".kind', 'outputs."orders.anonymized.v1".fields."tracking_number"']),
    ("a destination without a region",
     [('consent = ["analytics", "cookies_analytics"]  # ... and so is one who refused analytics cookies\n'
       'region = "EU"', 'consent = ["analytics", "cookies_analytics"]')], "", 0,
     ['outputs."logs.anonymized.v1" needs \'region\'']),
    ("against the schemas: a source path and a partner key",
     [('record_id = "event_id"', 'record_id = "event_uuid"'), ('key = "order_id"                    # the carrier',
                                                                'key = "parcel_id"                    # the carrier')],
     "", 1, ['sources."logs.v1".record_id', 'partners."parcelco".key']),
    ("against the schemas: a retention rule's status values",
     [('on = ["completed"]', 'on = ["complete"]'), ('on = ["cancelled", "refunded"]', 'on = ["canceled"]')], "", 1,
     ['retention."orders-completed".on', 'retention."orders-cancelled".on']),
    ("the compile: strategies that cannot apply to their fields",
     [('"tracking_number" = "mask"', '"tracking_number" = "mask"\n"customer.name" = "generalize"'),
      ('"device.model" = "drop"', '"device.model" = "drop"\n"ip" = "derive"')], "", 2,
     ['outputs."orders.anonymized.v1".fields."customer.name" = \'generalize\'',
      'outputs."logs.anonymized.v1".fields."ip" = \'derive\'']),
]


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    """LETHE_SCHEMAS_DIR with a user's own source (tests/tickets.py) beside the shipped ones."""
    directory = tmp_path / "schemas"
    directory.mkdir()
    (directory / "tickets.v1.avsc").write_text(json.dumps(SCHEMA), encoding="utf-8")
    return directory


def write(tmp_path: Path, edits: list[tuple[str, str]], appended: str = "") -> Path:
    text = POLICY
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "policy.toml"
    path.write_text(text + appended, encoding="utf-8")
    return path


@pytest.mark.parametrize(("edits", "appended", "stage", "entries"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_every_problem_of_the_first_stage_with_problems_is_reported_naming_its_entry(
        tmp_path: Path, schemas: Path, edits: list[tuple[str, str]], appended: str, stage: int,
        entries: list[str]) -> None:
    path = write(tmp_path, edits, appended)
    report = check_policy(path, schemas, os.urandom(32))
    assert not report.ok
    assert len(report.problems) == len(entries), report.problems
    for entry in entries:
        named = [problem for problem in report.problems if entry in problem]
        assert len(named) == 1, (entry, report.problems)
    assert not any(problem.startswith("policy ") for problem in report.problems)   # the header names the file
    assert report.checked == STAGES[:stage + 1] and report.not_checked == STAGES[stage + 1:]


def test_a_policy_without_problems_passes_every_stage(tmp_path: Path, schemas: Path) -> None:
    report = check_policy(write(tmp_path, [], STANZA), schemas, os.urandom(32))
    assert report.ok and report.problems == ()
    assert report.checked == STAGES and report.not_checked == ()
    assert report.policy is not None and "tickets.v1" in report.policy.sources


@pytest.mark.parametrize(("setup", "fragment"), [
    ("missing", "cannot read policy file"),
    ("not toml", "is not valid TOML"),
    ("no schema", 'sources."tickets.v1".schema'),
], ids=["missing-file", "not-toml", "schema-file-missing"])
def test_a_file_that_cannot_be_checked_says_why(tmp_path: Path, setup: str, fragment: str) -> None:
    path = tmp_path / "policy.toml"
    if setup == "not toml":
        path.write_text('version = "1"\n[categories\n', encoding="utf-8")
    elif setup == "no schema":
        path = write(tmp_path, [], STANZA)   # the shipped schemas have no tickets.v1.avsc
    report = check_policy(path, SCHEMAS, os.urandom(32))
    assert len(report.problems) == 1 and fragment in report.problems[0], report.problems


def test_the_worker_loading_the_policy_gets_every_problem_too(tmp_path: Path) -> None:
    """The check is no copy: the loader a worker runs raises the same problems, all of them."""
    case = CASES[0]
    with pytest.raises(PolicyProblems) as raised:
        load_policy(write(tmp_path, case[1]))
    assert len(raised.value.problems) == len(case[4])
    assert str(raised.value).startswith(f"{len(case[4])} problems:\n  policy ")
    assert isinstance(raised.value, PolicyError)
