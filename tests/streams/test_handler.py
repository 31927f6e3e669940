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


def handler_for(pipeline: TopicPipeline) -> BatchHandler:
    secrets: dict[str, bytes] = {}

    def secrets_for(subjects: dict[str, int]) -> tuple[dict[str, bytes], int]:
        new = [s for s in subjects if s not in secrets]
        for s in new:
            secrets[s] = s.encode().ljust(32, b"\0")
        return {s: secrets[s] for s in subjects}, len(new)

    async def nothing() -> None:
        return None

    def no_producer() -> Any:
        raise AssertionError("process() must not produce")

    return BatchHandler(pipeline, "orders.v1", "dlq.v1", Metrics(), secrets_for, no_producer,
                        lambda name: name, nothing)


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
              blocked: Mapping[str, Mapping[str, str]] | None = None) -> BatchResult:
        if any("TRIGGER" in (record.get("notes") or "") for _, record in decoded.records):
            raise ValueError("zofia@leak.example")   # a bug whose message quotes a value
        return real_anonymize(decoded, secrets, blocked)

    monkeypatch.setattr(pipeline, "anonymize", buggy)
    handler = handler_for(pipeline)
    result = handler.process(messages)
    assert sorted(out.index for out in result.outputs) == [0, 1, 2, 4, 5]
    assert [(i, exc.rule) for i, exc in result.dead] == [(3, "internal")]
    reason = result.dead[0][1].reason
    assert "ValueError" in reason and "zofia" not in reason


def test_the_batch_path_and_the_record_path_agree(pipeline: TopicPipeline) -> None:
    traffic = Traffic(REPO / "schemas" / "examples", subjects=3)
    messages = [Message("orders.v1", i % 4, i, None, json.dumps(traffic.order()).encode()) for i in range(8)]
    messages.append(Message("orders.v1", 1, 8, None, b"{broken"))
    handler = handler_for(pipeline)
    result = handler.process(messages)
    assert len(result.outputs) == 8
    assert [(i, exc.rule) for i, exc in result.dead] == [(8, "json")]
    assert result.tagged["contact.email"] >= 8
