"""The schema catalogue: every topic's Avro schema, loaded from ``schemas/``.

A topic's schema is ``schemas/<topic>.avsc``; released versions live in
``schemas/history/<topic>/v<N>.avsc``. Every version's Avro single-object fingerprint
(CRC-64-AVRO of the parsing canonical form) is indexed so that binary input written with an
older schema is read with schema resolution, no registry needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from processors.errors import SchemaError

INPUT_TOPICS = ("orders.v1", "logs.v1", "consent.v1", "privacy-requests.v1")


@dataclass(frozen=True)
class TopicSchema:
    topic: str
    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes

    @property
    def version(self) -> int:
        return int(self.raw.get("version", 1))


@dataclass
class SchemaCatalog:
    directory: Path
    current: dict[str, TopicSchema] = field(default_factory=dict)
    by_fingerprint: dict[bytes, TopicSchema] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> SchemaCatalog:
        if not directory.is_dir():
            raise SchemaError(f"schema directory {directory} does not exist")
        catalog = cls(directory)
        for path in sorted(directory.glob("*.avsc")):
            schema = _load_one(path.stem, path)
            catalog.current[schema.topic] = schema
            catalog.by_fingerprint[schema.fingerprint] = schema
        for path in sorted(directory.glob("history/*/*.avsc")):
            schema = _load_one(path.parent.name, path)
            catalog.by_fingerprint.setdefault(schema.fingerprint, schema)
        if not catalog.current:
            raise SchemaError(f"no .avsc files in {directory}")
        return catalog

    def for_topic(self, topic: str) -> TopicSchema:
        try:
            return self.current[topic]
        except KeyError:
            raise SchemaError(f"no schema for topic {topic!r} in {self.directory}") from None


def _load_one(topic: str, path: Path) -> TopicSchema:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        parsed = parse_schema(raw)
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: cannot parse schema: {exc}") from exc
    except Exception as exc:  # fastavro raises its own SchemaParseException
        raise SchemaError(f"{path}: invalid Avro schema: {exc}") from exc
    canonical = to_parsing_canonical_form(raw)
    # fastavro gives the 8 bytes already in the little-endian order the spec puts on the wire
    digest = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    return TopicSchema(topic=topic, raw=raw, parsed=parsed, fingerprint=digest)


def default_schema_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas"
