"""The output that rewrites a record in place (issue 14, third pass): which one it is, and that the
partner records after it are byte for byte what they are when every output copies the record."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from processors.outputs import inplace_output
from processors.pipeline import TopicPipeline
from processors.policy import parse_policy
from processors.sample import Traffic
from processors.schemas import SchemaCatalog

MASTER = b"M" * 32
Data = dict[str, Any]


def _parcelco_fields(**fields: str) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        data["partners"]["parcelco"]["fields"].update(fields)
    return edit


def _second_internal_output(data: Data) -> None:
    """A second internal output of orders (outputs come before the partners' in the plans)."""
    data["outputs"]["orders.audit.v1"] = copy.deepcopy(data["outputs"]["orders.anonymized.v1"])


CASES = [
    # (id, policy edit, source, the in-place output's position or None)
    ("default orders: orders.anonymized.v1 before the two partners", None, "orders.v1", 0),
    ("default logs: one output, which is last anyway", None, "logs.v1", None),
    ("a partner that receives the notes reads the whole record", _parcelco_fields(notes="redact"), "orders.v1", None),
    ("two internal outputs: the second, the first copies", _second_internal_output, "orders.v1", 1),
]


def _pipeline(default_policy_path: Path, catalog: SchemaCatalog, edit: Callable[[Data], None] | None,
              source: str) -> TopicPipeline:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    if edit is not None:
        edit(data)
    return TopicPipeline(catalog, parse_policy(data, "policy.toml"), source, MASTER)


@pytest.mark.parametrize(("edit", "source", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_in_place_output(default_policy_path: Path, catalog: SchemaCatalog,
                             edit: Callable[[Data], None] | None, source: str, expected: int | None) -> None:
    pipeline = _pipeline(default_policy_path, catalog, edit, source)
    assert inplace_output(pipeline.plans, pipeline.routes) == expected
    assert pipeline._inplace == expected


def _digest(pipeline: TopicPipeline, values: list[bytes], secrets: dict[str, bytes]) -> str:
    result = pipeline.anonymize(pipeline.decode(values), secrets)
    digest = hashlib.sha256()
    for out in result.outputs:
        digest.update(repr((out.topic, out.index, out.key, out.value)).encode())
    digest.update(repr([(i, s.subject, s.partner, sorted(s.categories)) for i, s in result.shares]).encode())
    digest.update(repr(sorted(result.tagged.items())).encode())
    return digest.hexdigest()


@pytest.mark.parametrize("encoding", ["json", "avro"])
@pytest.mark.parametrize("edit", [None, _second_internal_output], ids=["default", "two internal outputs"])
def test_rewriting_in_place_changes_no_byte(default_policy_path: Path, catalog: SchemaCatalog, schema_dir: Path,
                                            encoding: str, edit: Callable[[Data], None] | None) -> None:
    data = tomllib.loads(default_policy_path.read_text(encoding="utf-8"))
    if edit is not None:
        edit(data)
    pipeline = TopicPipeline(catalog, parse_policy(data, "policy.toml"), "orders.v1", MASTER, encoding=encoding)
    assert pipeline._inplace is not None
    traffic = Traffic(schema_dir / "examples", subjects=40, seed=5)
    values = [json.dumps(traffic.order()).encode() for _ in range(300)]
    secrets = {f"cust-{100000 + i}": hashlib.sha256(str(i).encode()).digest() for i in range(40)}
    in_place = _digest(pipeline, values, secrets)
    pipeline._inplace = None   # every output but the last copies what it rewrites
    assert _digest(pipeline, values, secrets) == in_place
