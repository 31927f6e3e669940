"""BatchHandler.process is pure logic over a batch: a processing bug on one record costs only that record;
its dead letters are sealed with their subject's secret, made first for a new subject (streams/dlq.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from support import REPO

from processors.dlq import Keyring, Opened, letter_key
from processors.errors import InvalidRecord
from processors.pipeline import BatchResult, Decoded, TopicPipeline
from processors.policy import load_policy
from processors.sample import Traffic
from processors.schemas import SchemaCatalog
from streams.dlq import DeadLetters
from streams.handler import BatchHandler
from streams.metrics import Metrics


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0


class State:
    """The batch state as plain dicts: secrets kept by subject, nothing gated."""

    def __init__(self) -> None:
        self.secrets: dict[str, bytes] = {}
        self.absorbed: list[BatchResult] = []

    def secret(self, subject: str, partition: int) -> bytes | None:
        return self.secrets.get(subject)

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        return None

    def absorb(self, result: BatchResult) -> bool:
        self.absorbed.append(result)
        for _, subject, secret in result.new_secrets:
            assert subject not in self.secrets, "a subject got a second secret"
            self.secrets[subject] = secret
        return bool(result.new_secrets)

    async def flush(self) -> None:
        return None


def handler_for(pipeline: TopicPipeline, state: State | None = None) -> BatchHandler:
    def no_producer() -> Any:
        raise AssertionError("process() must not produce")

    state = state or State()
    return BatchHandler(pipeline, "orders.v1", DeadLetters("dlq.v1", b"k" * 32, state), Metrics(), state, no_producer,
                        lambda name: name)


@pytest.fixture
def pipeline() -> TopicPipeline:
    catalog = SchemaCatalog.load(REPO / "schemas")
    return TopicPipeline(catalog, load_policy(REPO / "deploy" / "policy.toml"), "orders.v1", b"k" * 32)


def test_a_bug_on_one_record_dead_letters_only_that_record(pipeline: TopicPipeline,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    traffic = Traffic(REPO / "schemas" / "examples", subjects=5)
    orders = [traffic.order() for _ in range(6)]
    orders[3]["notes"] = "TRIGGER zofia@leak.example"
    messages = [Message("orders.v1", 0, i, None, json.dumps(o).encode()) for i, o in enumerate(orders)]
    real_anonymize = pipeline.anonymize

    def buggy(decoded: Decoded, secrets: Mapping[str, bytes],
              blocked: Mapping[tuple[str | None, str | None], Mapping[str, str]] | None = None) -> BatchResult:
        if any("TRIGGER" in (record.get("notes") or "") for _, record in decoded.records):
            raise ValueError("zofia@leak.example")   # a bug whose message quotes a value
        return real_anonymize(decoded, secrets, blocked)

    monkeypatch.setattr(pipeline, "anonymize", buggy)
    state = State()
    handler = handler_for(pipeline, state)
    result, changed = handler.process(messages)
    assert changed   # the new subjects' secrets, kept record by record
    # every output of the source (the anonymized one and the default partners) for each surviving record
    assert sorted(out.index for out in result.outputs) == sorted([0, 1, 2, 4, 5] * len(pipeline.plans))
    # every surviving record of one subject is keyed by the one secret the subject got
    assert len(state.secrets) == len({o["customer_id"] for n, o in enumerate(orders) if n != 3})
    assert [(i, exc.rule) for i, exc in result.dead] == [(3, "internal")]
    reason = result.dead[0][1].reason
    assert "ValueError" in reason and "zofia" not in reason


def test_the_batch_path_and_the_record_path_agree(pipeline: TopicPipeline) -> None:
    traffic = Traffic(REPO / "schemas" / "examples", subjects=3)
    messages = [Message("orders.v1", i % 4, i, None, json.dumps(traffic.order()).encode()) for i in range(8)]
    messages.append(Message("orders.v1", 1, 8, None, b"{broken"))
    handler = handler_for(pipeline)
    result, _ = handler.process(messages)
    assert len([out for out in result.outputs if out.topic == "orders.anonymized.v1"]) == 8
    assert len(result.outputs) == 8 * len(pipeline.plans)
    assert [(i, exc.rule) for i, exc in result.dead] == [(8, "json")]
    assert result.tagged["contact.email"] >= 8


def test_a_dead_letter_is_sealed_with_its_subjects_secret_made_first_if_new() -> None:
    master, state = b"m" * 32, State()
    dead_letters = DeadLetters("dlq.v1", master, state)
    messages = [Message("orders.v1", 1, 0, b"cust-1", b'{"email": "ada@leak.example"'),
                Message("orders.v1", 1, 1, b"cust-1", b"{also bad"), Message("orders.v1", 2, 2, None, b"{keyless")]
    assert dead_letters.prepare(messages) and list(state.secrets) == ["cust-1"]   # one secret, absorbed
    assert not dead_letters.prepare(messages)   # it has one now: nothing to flush
    _, value, key, _, headers = dead_letters.letter(messages[0], InvalidRecord("json", "not JSON"))
    assert key == letter_key(state.secrets["cust-1"]) and value is not None and b"ada@" not in value
    opened = Keyring(master, {"cust-1": [state.secrets["cust-1"]]}).open(value, key, dict(headers))
    assert (opened.sealed_with, opened.readable, opened.key, opened.value) == ("subject", True, b"cust-1",
                                                                               messages[0].value)
    assert not Keyring(master, {}).open(value, key, dict(headers)).readable   # its secret destroyed: shut
    _, value, key, _, headers = dead_letters.letter(messages[2], InvalidRecord("json", "not JSON"))
    assert Keyring(master, {}).open(value, key, dict(headers)) == Opened("deployment", True, None, b"{keyless")


def test_a_source_without_subjects_seals_every_dead_letter_with_the_deployment_key() -> None:
    dead_letters = DeadLetters("dlq.v1", b"m" * 32, None)
    message = Message("telemetry.v1", 0, 0, b"device-9", b"{bad")
    assert not dead_letters.prepare([message])
    _, value, key, _, headers = dead_letters.letter(message, InvalidRecord("json", "not JSON"))
    assert Keyring(b"m" * 32, {}).open(value, key, dict(headers)) == Opened("deployment", True, b"device-9", b"{bad")
