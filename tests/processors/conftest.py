"""Fixtures for the pure-logic tests: the real schemas, the default policy, sample traffic.

Helpers are fixtures (not importable functions) because the test directories have no
``__init__.py``: ``import conftest`` would be ambiguous with ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from processors.decode import SINGLE_OBJECT_MAGIC
from processors.policy import Policy, load_policy, parse_policy
from processors.schemas import SchemaCatalog, TopicSchema

# detect_cases holds the asserts of the detection-rule tests: rewrite them as in a test module.
pytest.register_assert_rewrite("detect_cases")

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "schemas"
EXAMPLES_DIR = SCHEMA_DIR / "examples"
DEFAULT_POLICY = REPO / "deploy" / "policy.toml"

Example = Callable[[str], dict[str, Any]]
SingleObject = Callable[[TopicSchema, dict[str, Any]], bytes]


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    return SCHEMA_DIR


@pytest.fixture(scope="session")
def default_policy_path() -> Path:
    return DEFAULT_POLICY


@pytest.fixture(scope="session")
def catalog() -> SchemaCatalog:
    return SchemaCatalog.load(SCHEMA_DIR)


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


@pytest.fixture(scope="session")
def redacting_policy() -> Policy:
    """The default policy with redaction of free text opted in (it ships with derive)."""
    data = tomllib.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["categories"]["free_text"] = "redact"
    return parse_policy(data, "redacting.toml")


@pytest.fixture(scope="session")
def example() -> Example:
    """Returns a fresh copy of schemas/examples/<topic>.json on every call."""
    texts = {path.stem: path.read_text(encoding="utf-8") for path in EXAMPLES_DIR.glob("*.json")}

    def load(topic: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(texts[topic])
        return data
    return load


@pytest.fixture(scope="session")
def single_object() -> SingleObject:
    """Encodes a record in the Avro single-object encoding with the given writer schema."""
    def encode(schema: TopicSchema, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(SINGLE_OBJECT_MAGIC + schema.fingerprint)
        schemaless_writer(buffer, schema.parsed, record)
        return buffer.getvalue()
    return encode
