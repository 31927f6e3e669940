"""Writer schemas from a Confluent-compatible schema registry, for input in the Confluent wire
format (processors/decode.py): ``LETHE_SCHEMA_REGISTRY_URL``.

The lookup goes through ``confluent-kafka``'s registry client. A schema id is fetched once and
kept for the process's life (an id never changes its schema). An id the registry does not know
(HTTP 404) dead-letters the record (``registry_unknown_id``); a registry that does not answer, or
answers with any other error, raises :class:`RegistryUnavailable`: the batch waits and is retried
(streams/handler.py), counted in ``lethe_schema_registry_errors_total`` and alerted
(``LetheSchemaRegistryUnavailable``); no record is lost or dead-lettered for it. A ``mock://NAME``
URL is the client library's in-memory registry (what the unit tests use).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastavro import parse_schema

from processors.errors import InvalidRecord, RegistryUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

class SchemaRegistry:
    """Schema id -> parsed writer schema (None for an id the registry does not have)."""

    def __init__(self, url: str, client: Any = None) -> None:
        if client is None:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            client = SchemaRegistryClient.new_client({"url": url, "timeout": 10, "max.retries": 1})
        self.client = client
        self.schemas: dict[int, Any] = {}

    def __call__(self, schema_id: int) -> Any:
        found = self.schemas.get(schema_id)
        if found is not None:
            return found
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise RegistryUnavailable(f"the schema registry answered HTTP {exc.http_status_code}") from None
        except Exception as exc:   # connection refused, timeout, TLS: the registry is unreachable
            raise RegistryUnavailable(f"the schema registry is unreachable ({type(exc).__name__})") from None
        if (schema.schema_type or "AVRO") != "AVRO":
            raise InvalidRecord("registry_not_avro", f"schema id {schema_id} is a {schema.schema_type} schema; Lethe "
                                "reads Avro")
        try:
            parsed = parse_schema(json.loads(schema.schema_str))
        except Exception as exc:
            raise InvalidRecord("registry_not_avro", f"schema id {schema_id} does not parse as an Avro schema "
                                f"({type(exc).__name__})") from None
        self.schemas[schema_id] = parsed
        return parsed


def registry_from(url: str | None) -> SchemaRegistry | None:
    return SchemaRegistry(url) if url else None


def waiting_for_registry(decode: Callable[[bytes | None], T], stop: Callable[[], bool],
                         pause: float = 2.0) -> Callable[[bytes | None], T]:
    """``decode`` for a blocking consumer (the reference sink): while the registry is unavailable the
    record waits, retried every ``pause`` seconds, until it decodes or the process stops."""
    def decode_waiting(raw: bytes | None) -> T:
        while True:
            try:
                return decode(raw)
            except RegistryUnavailable as exc:
                if stop():
                    raise
                log.warning("%s; the record waits (retrying in %.0fs)", exc, pause)
                time.sleep(pause)
    return decode_waiting
