"""The schema catalogue: every topic's Avro schema, loaded from ``schemas/`` and LETHE_SCHEMAS_DIR.

A topic's schema is ``<dir>/<topic>.avsc`` (a source may name another file: processors/sources.py);
an anonymized output's is derived from its source's at start-up. Released versions live in
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
    derived: dict[str, TopicSchema] = field(default_factory=dict)   # outputs, derived at start-up

    @classmethod
    def load(cls, directory: Path) -> SchemaCatalog:
        """The schemas of ``directory`` (LETHE_SCHEMAS_DIR) over the shipped ones: Lethe's own topics
        (consent, requests, commands, audit ...) always have their schema, and a directory holding
        only a user's source schemas is enough."""
        if not directory.is_dir():
            raise SchemaError(f"schema directory {directory} does not exist")
        catalog = cls(directory)
        shipped = default_schema_dir()
        layers = [directory] if directory.resolve() == shipped else [directory, shipped]
        for n, layer in enumerate(layers):   # the user's directory first: its files win
            found = sorted(layer.glob("*.avsc"))
            if n == 0 and not found:
                raise SchemaError(f"no .avsc files in {directory}")
            for path in found:
                schema = _load_one(path.stem, path)
                catalog.current.setdefault(schema.topic, schema)
                catalog.by_fingerprint.setdefault(schema.fingerprint, schema)
            for path in sorted(layer.glob("history/*/*.avsc")):
                schema = _load_one(path.parent.name, path)
                catalog.by_fingerprint.setdefault(schema.fingerprint, schema)
        return catalog

    def output(self, topic: str, source: TopicSchema, projection: tuple[str, ...] | None = None,
               partner: str | None = None) -> TopicSchema:
        """An anonymized output's schema, derived from its source's (processors/derive.py) at start-up.

        A checked-in ``<topic>.avsc`` is not read for this: the derivation is what the output
        carries, so a new source needs no output schema file. A partner's output (``projection``:
        its declared paths) holds those fields and ``lethe`` only (processors/partners.py).
        """
        from processors.derive import derive_anonymized
        from processors.partners import project_schema

        derived = self.derived.get(topic)
        if derived is None:
            try:
                raw = derive_anonymized(source.raw, topic)
                if projection is not None:
                    raw = project_schema(raw, projection, partner)
            except ValueError as exc:
                raise SchemaError(f"cannot derive the schema of {topic} from {source.topic}: {exc}") from None
            derived = self.derived[topic] = _from_raw(topic, raw, f"{topic} (derived from {source.topic})")
            self.by_fingerprint.setdefault(derived.fingerprint, derived)
        return derived

    def for_topic(self, topic: str) -> TopicSchema:
        try:
            return self.current[topic]
        except KeyError:
            raise SchemaError(f"no schema for topic {topic!r} in {self.directory}") from None


def _load_one(topic: str, path: Path) -> TopicSchema:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: cannot parse schema: {exc}") from exc
    return _from_raw(topic, raw, str(path))


def _from_raw(topic: str, raw: Any, where: str) -> TopicSchema:
    try:
        parsed = parse_schema(raw)
    except ValueError as exc:
        raise SchemaError(f"{where}: cannot parse schema: {exc}") from exc
    except Exception as exc:  # fastavro raises its own SchemaParseException
        raise SchemaError(f"{where}: invalid Avro schema: {exc}") from exc
    canonical = to_parsing_canonical_form(raw)
    # fastavro gives the 8 bytes already in the little-endian order the spec puts on the wire
    digest = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    return TopicSchema(topic=topic, raw=raw, parsed=parsed, fingerprint=digest)


def default_schema_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas"
