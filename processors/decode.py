"""Decode raw input bytes into validated records.

Accepted encodings on input topics:

* JSON (UTF-8), validated against the topic's Avro schema;
* Avro binary in the Avro single-object encoding (``C3 01`` + 8-byte CRC-64-AVRO fingerprint +
  body). The fingerprint selects the writer schema from ``schemas/`` (current or released
  version); the record is resolved to the topic's current schema and validated like JSON;
* with a schema registry configured (``LETHE_SCHEMA_REGISTRY_URL``), the Confluent wire format
  (``00`` + 4-byte big-endian schema id + Avro body): the writer schema is looked up by id
  (``registry``, cached by streams/registry.py), the body read with it, and the result validated
  like JSON, which is Avro's schema resolution for what Lethe's schemas use (missing fields take
  their defaults, promoted numbers are accepted, a field or symbol Lethe's schema cannot take is
  dead-lettered) and reports the writer's extra fields as unknown fields.

Everything that fails raises :class:`InvalidRecord`, whose message never carries a value.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastavro import schemaless_reader

from processors.errors import InvalidRecord
from processors.schemas import TopicSchema
from processors.validate import DEFAULT_MAX_STRING, compile_validator

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
# a schema id -> its parsed writer schema, None if the registry has no such id; raises RegistryUnavailable
Registry = Callable[[int], Any]
DEFAULT_MAX_RECORD_BYTES = 1_048_576
_AVRO_FIRST = SINGLE_OBJECT_MAGIC[:1]
_NOT_JSON = object()   # what a record orjson cannot parse decodes to, before its error is raised
_loads = orjson.loads


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_string: int = DEFAULT_MAX_STRING


DEFAULT_LIMITS = Limits()


def encoding_of(raw: bytes | None) -> str:
    """The input encoding a record claims: avro (single-object header), json, or unknown (empty)."""
    if not raw:
        return "unknown"
    if raw[:1] == CONFLUENT_MAGIC:
        return "confluent"
    return "avro" if raw[:2] == SINGLE_OBJECT_MAGIC else "json"


class Decoder:
    """Decodes one topic's records; built once per topic, used for every record."""

    def __init__(
        self,
        schema: TopicSchema,
        writers: Callable[[bytes], TopicSchema | None],
        limits: Limits = DEFAULT_LIMITS,
        registry: Registry | None = None,
    ) -> None:
        self.schema = schema
        self._registry = registry
        self.limits = limits
        # fields the schema does not declare, of the record decoded last (processors/unknown.py)
        self.unknown: list[tuple[str, str, Any]] = []
        self._validate = compile_validator(schema.raw, limits.max_string, self.unknown)
        self._max_bytes = limits.max_record_bytes
        self._writers = writers

    def encoding_of(self, raw: bytes | None) -> str:
        return "none" if raw is None else encoding_of(raw)

    def decode(self, raw: bytes | None) -> dict[str, Any]:
        if self.unknown:
            self.unknown.clear()
        if raw is None:
            raise InvalidRecord("empty", "record has no value (tombstone)")
        if len(raw) > self._max_bytes:
            raise InvalidRecord("max_size", f"record larger than {self.limits.max_record_bytes} bytes")
        first = raw[:1]   # one slice per record tells the three encodings apart
        if first == _AVRO_FIRST and raw[:2] == SINGLE_OBJECT_MAGIC:
            value = self._decode_avro(raw)
        elif first == CONFLUENT_MAGIC:
            value = self._decode_confluent(raw)
        else:   # JSON, the common case, parsed here; a failure is parsed again to raise outside the handler
            try:
                value = _loads(raw)
            except orjson.JSONDecodeError:
                value = _NOT_JSON
            if value is _NOT_JSON:
                value = self._decode_json(raw)
        if type(value) is not dict:
            raise InvalidRecord("type", "record must be a JSON object")
        if first == CONFLUENT_MAGIC:
            try:
                resolved: dict[str, Any] = self._validate(value)
            except InvalidRecord as exc:   # the writer's schema does not resolve to the topic's
                raise InvalidRecord("registry_incompatible", f"writer schema {int.from_bytes(raw[1:5], 'big')} is "
                                    f"not compatible with {self.schema.topic}: {exc.reason}", exc.path) from None
            return resolved
        result: dict[str, Any] = self._validate(value)
        return result

    def _decode_json(self, raw: bytes) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            text, pos = str(exc).lower(), exc.pos
        # raised outside the handler so that no __context__ keeps the parser's copy of the record
        if "depth limit" in text or "recursion" in text:
            raise InvalidRecord("max_depth", "JSON nested deeper than 1024 levels")
        if "utf-8" in text or "surrogate" in text:
            raise InvalidRecord("utf8", "record is not valid UTF-8")
        raise InvalidRecord("json", f"malformed JSON at byte {pos}")

    def _decode_avro(self, raw: bytes) -> Any:
        if len(raw) < 10:
            raise InvalidRecord("avro", "single-object header is truncated")
        writer = self._writers(raw[2:10])
        if writer is None:
            raise InvalidRecord("unknown_fingerprint", "no schema in schemas/ has this Avro fingerprint")
        if writer.topic != self.schema.topic:
            raise InvalidRecord("wrong_schema", f"Avro fingerprint belongs to topic {writer.topic}")
        return _read_avro(raw, 10, writer.parsed, self.schema.parsed)

    def _decode_confluent(self, raw: bytes) -> Any:
        if self._registry is None:
            raise InvalidRecord("registry_unconfigured", "Confluent wire format (schema id header) but no schema "
                                "registry is configured (set LETHE_SCHEMA_REGISTRY_URL)")
        if len(raw) < 5:
            raise InvalidRecord("avro", "Confluent wire header is truncated")
        writer = self._registry(int.from_bytes(raw[1:5], "big"))   # RegistryUnavailable: the batch waits
        if writer is None:
            raise InvalidRecord("registry_unknown_id", "the schema registry has no schema with this id")
        value = _read_avro(raw, 5, writer, None)
        if type(value) is not dict:
            raise InvalidRecord("registry_incompatible", "the writer schema is not a record")
        return value


def _read_avro(raw: bytes, header: int, writer: Any, reader: Any) -> Any:
    """The Avro body after ``header`` bytes, read with ``writer`` (resolved to ``reader`` if given)."""
    buffer = io.BytesIO(raw[header:])
    try:
        value = schemaless_reader(buffer, writer, reader)
    except RecursionError:
        raise InvalidRecord("max_depth", "Avro record nested too deeply") from None
    except Exception as exc:  # fastavro raises many kinds on corrupt input
        raise InvalidRecord("avro", f"corrupt Avro body ({type(exc).__name__})") from None
    if buffer.tell() != len(raw) - header:
        raise InvalidRecord("avro", "trailing bytes after the Avro body")
    return value
