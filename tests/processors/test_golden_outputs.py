"""Golden outputs: every byte TopicPipeline writes for a fixed input, against a stored digest.

Performance work on the processors (issue 14) must not change a single output byte, key, dead
letter or count. This test runs sample traffic (``processors.sample.Traffic``, fixed seed), with
the labelled multilingual notes of ``bench/free_text_corpus.py`` in the free-text fields and a few
malformed records, through ``TopicPipeline.process`` of each source, with a fixed master key, fixed
subject secrets and a few gated subjects, for the default policy (``deploy/policy.toml``, partners
and transfers included), the same policy with free text redacted (so that every detector span
shows in the bytes), and a variant whose first output of orders is a partner that receives the
notes (its tag counts and record context come from fields it does not publish) and whose transfers
from the UK to the US are pseudonymized, with JSON output from JSON input and Avro output from Avro
input.

It compares, per case, a sha256 over the inputs (so a changed generator is told apart from a
changed pipeline), a sha256 over all (output topic, index, key, value) in order, one over the
timers, shares and transfer counts, and the dead-letter rules and tag counts in clear.

After an intended change of the outputs, regenerate the fixture and review its diff:

    LETHE_REGEN_GOLDEN=1 PYTHONPATH=$PWD .venv/bin/pytest -q tests/processors/test_golden_outputs.py
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from bench.free_text_corpus import corpus
from processors.pipeline import BatchResult, TopicPipeline
from processors.policy import Policy, parse_policy
from processors.retention import RetentionPlan
from processors.sample import Traffic, invalid_enum, malformed_records
from processors.schemas import SchemaCatalog, TopicSchema

GOLDEN = Path(__file__).parent / "golden" / "pipeline_outputs.json"
REGENERATE = os.environ.get("LETHE_REGEN_GOLDEN") == "1"
MASTER = bytes(range(32))
SOURCES = ("orders.v1", "logs.v1")
ENCODINGS = ("json", "avro")
POLICIES = ("default", "redact", "partner_text")
EVENTS = 2000   # per source
BATCH = 500
SingleObject = Callable[[TopicSchema, dict[str, Any]], bytes]


def subject_secret(subject: str) -> bytes:
    return hashlib.sha256(b"golden/" + subject.encode()).digest()


class FixedState:
    """A fixed secret for every subject; every 7th subject restricted, every 11th kept from one output."""

    def __init__(self, withheld_output: str) -> None:
        self.withheld_output = withheld_output

    def secret(self, subject: str, partition: int) -> bytes | None:
        return subject_secret(subject)

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        if subject is None:   # an anonymous record: no session choice here
            return None
        number = int(subject.rpartition("-")[2])
        if number % 7 == 0:
            return {"*": "restrict"}
        if number % 11 == 0:
            return {self.withheld_output: "consent"}
        return None


@pytest.fixture(scope="module")
def policies(default_policy_path: Path) -> dict[str, Policy]:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    redacting = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    redacting["categories"]["free_text"] = "redact"
    partner_text = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    partner_text["categories"]["free_text"] = "redact"
    del partner_text["outputs"]["orders.anonymized.v1"]
    partner_text["partners"]["parcelco"]["fields"]["notes"] = "redact"
    partner_text["partners"]["paynow"]["fields"]["notes"] = "derive"
    for rule in partner_text["transfers"]["rules"]:
        if (rule["origin"], rule["destination"]) == ("UK", "US"):
            rule["decision"] = "pseudonymize"
            del rule["safeguard"]
    return {"default": parse_policy(data, "policy.toml"), "redact": parse_policy(redacting, "redacting.toml"),
            "partner_text": parse_policy(partner_text, "partner_text.toml")}


@pytest.fixture(scope="module")
def events(examples_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Sample orders and logs; a third of them carry a corpus note in a scanned text field."""
    traffic = Traffic(examples_dir, subjects=300, seed=2026)
    notes = [note.text for note in corpus(EVENTS, seed=13)]
    orders, logs = [traffic.order() for _ in range(EVENTS)], []
    for i in range(EVENTS):
        log = traffic.log(anonymous=i % 9 == 0)
        if i % 3 == 1:
            log["click_target"] = notes[i]
        if i % 5 == 2:
            log["referrer"] = "https://search.example.org/?q=" + notes[i].replace(" ", "+")
        logs.append(log)
        if i % 3 == 0:
            orders[i]["notes"] = notes[i]
    return {"orders.v1": orders, "logs.v1": logs}


def inputs(events: list[dict[str, Any]], encoding: str, schema: TopicSchema, single_object: SingleObject,
           examples_dir: Path) -> list[bytes | None]:
    if encoding == "json":
        values: list[bytes | None] = [json.dumps(event).encode() for event in events]
    else:
        values = [single_object(schema, event) for event in events]
    bad: list[bytes | None] = [value for _, value in malformed_records()]
    bad += [None, invalid_enum(Traffic(examples_dir, subjects=3, seed=1))]
    for n, value in enumerate(bad):   # spread over the batches
        values.insert(n * len(values) // len(bad), value)
    return values


def digest(*parts: bytes | str | None) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = b"\x00none" if part is None else part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def summary(values: list[bytes | None], results: list[BatchResult]) -> dict[str, Any]:
    outputs = hashlib.sha256()
    effects = hashlib.sha256()
    dead: dict[str, int] = {}
    tagged: dict[str, int] = {}
    count = 0
    for result in results:
        for out in result.outputs:
            outputs.update(digest(out.topic, str(out.index), out.key, out.value).encode())
            count += 1
        for _, error in result.dead:
            reason = f"{error.rule} at {error.path or '<record>'}"
            dead[reason] = dead.get(reason, 0) + 1
        for category, n in result.tagged.items():
            tagged[category] = tagged.get(category, 0) + n
        effects.update(repr((
            sorted(result.gated.items()), result.new_secrets, result.timers, result.unscheduled,
            sorted(result.transfers.items()), sorted(result.transfer_held.items(), key=repr),
            [(partition, share.subject, share.partner, sorted(share.categories)) for partition, share in result.shares],
        )).encode())
    return {
        "inputs": digest(*values),
        "outputs": count,
        "outputs_sha256": outputs.hexdigest(),
        "effects_sha256": effects.hexdigest(),
        "dead": dict(sorted(dead.items())),
        "tagged": dict(sorted(tagged.items())),
    }


def run_case(catalog: SchemaCatalog, policy: Policy, source: str, encoding: str,
             values: list[bytes | None]) -> list[BatchResult]:
    pipe = TopicPipeline(catalog, policy, source, MASTER, encoding=encoding,
                         retention=RetentionPlan(policy.retention, policy.sources))
    state = FixedState(policy.outputs_for(source)[-1].topic)
    results = []
    for start in range(0, len(values), BATCH):
        batch = values[start : start + BATCH]
        results.append(pipe.process(batch, [n % 4 for n in range(start, start + len(batch))], state))
    return results


@pytest.fixture(scope="module")
def actual(catalog: SchemaCatalog, policies: dict[str, Policy], events: dict[str, list[dict[str, Any]]],
           single_object: SingleObject, examples_dir: Path) -> dict[str, dict[str, Any]]:
    cases = {}
    for name, policy in policies.items():
        for source in SOURCES:
            schema = catalog.for_topic(policy.sources[source].schema_name)
            for encoding in ENCODINGS:
                values = inputs(events[source], encoding, schema, single_object, examples_dir)
                cases[f"{name}/{source}/{encoding}"] = summary(values, run_case(catalog, policy, source, encoding,
                                                                                 values))
    if REGENERATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return cases


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_outputs_equal_the_golden_ones(actual: dict[str, dict[str, Any]], policy: str, source: str,
                                       encoding: str) -> None:
    if REGENERATE:
        pytest.skip(f"LETHE_REGEN_GOLDEN=1: {GOLDEN.name} rewritten; review its diff")
    case = f"{policy}/{source}/{encoding}"
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))[case]
    got = actual[case]
    assert got["inputs"] == golden["inputs"], (
        "the test's inputs changed (processors/sample.py or bench/free_text_corpus.py?), not the pipeline: "
        "regenerate with LETHE_REGEN_GOLDEN=1 if that is intended")
    assert got["dead"] == golden["dead"]
    assert got["tagged"] == golden["tagged"]
    assert got["outputs"] == golden["outputs"]
    assert got["outputs_sha256"] == golden["outputs_sha256"], "an output topic, index, key or value changed"
    assert got["effects_sha256"] == golden["effects_sha256"], "gates, timers, transfers or shares changed"


def test_the_golden_cases_reach_every_detector_and_outcome(actual: dict[str, dict[str, Any]]) -> None:
    """The inputs are worth comparing: records were dead-lettered, and free text held every kind of finding."""
    redacted = actual["redact/orders.v1/json"]
    assert redacted["dead"] and redacted["outputs"] > EVENTS
    found = {category for case in actual.values() for category in case["tagged"]}
    assert {"contact.email", "contact.phone", "contact.address", "transaction.payment", "network.ip",
            "identifier.session"} <= found
