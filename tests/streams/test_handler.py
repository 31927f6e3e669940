"""BatchHandler.process is pure logic over a batch: a processing bug on one record costs only that record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from support import REPO

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
