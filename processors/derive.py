"""Anonymized output schemas, derived from their source's schema (schemas/README.md).

Same fields, order, names, types and attributes, except that every field carrying a ``category``
becomes ``["null", T]`` with default null (a strategy may drop it), named types move to the
namespace ``lethe.<output topic>``, the ``provided`` attribute is dropped (it is about what the
subject gave upstream, processors/provided.py), and a field ``lethe`` (what was done) is appended.
Lethe derives each output's schema at start-up (:meth:`processors.schemas.SchemaCatalog.output`); the
checked-in ``orders.anonymized.v1.avsc`` and ``logs.anonymized.v1.avsc`` equal the derivation.
"""

from __future__ import annotations

import copy
import json
from typing import Any

NAMED_TYPES = ("record", "enum", "fixed")
Json = Any

LETHE_META_FIELD: Json = {
    "name": "lethe",
    "type": {
        "type": "record",
        "name": "LetheMeta",
        "fields": [
            {"name": "policy", "type": "string", "doc": "Version of the privacy policy applied."},
            {"name": "tags", "type": {"type": "map", "values": "string"}},
        ],
    },
    "doc": (
        "How this record was anonymized. tags maps a field path (e.g. customer.email) to "
        '"category:strategy" (e.g. "contact.email:mask"), for schema fields and for personal data '
        "found by scanning free text."
    ),
}


def _nullable(avro_type: Json) -> Json:
    if isinstance(avro_type, list):
        if "null" in avro_type:
            return ["null", *(branch for branch in avro_type if branch != "null")]
        return ["null", *avro_type]
    return ["null", avro_type]


def _derive_type(avro_type: Json, old_ns: str, new_ns: str) -> Json:
    if isinstance(avro_type, str):
        # A reference to a named type by full name moves to the new namespace with it.
        return new_ns + avro_type[len(old_ns) :] if avro_type.startswith(old_ns + ".") else avro_type
    if isinstance(avro_type, list):
        return [_derive_type(branch, old_ns, new_ns) for branch in avro_type]
    derived = dict(avro_type)
    kind = derived["type"]
    if kind in NAMED_TYPES and derived.get("namespace") == old_ns:
        derived["namespace"] = new_ns
    if kind == "record":
        derived["fields"] = [_derive_field(field, old_ns, new_ns) for field in derived["fields"]]
    elif kind == "array":
        derived["items"] = _derive_type(derived["items"], old_ns, new_ns)
    elif kind == "map":
        derived["values"] = _derive_type(derived["values"], old_ns, new_ns)
    elif isinstance(kind, (dict, list)):
        derived["type"] = _derive_type(kind, old_ns, new_ns)
    return derived


def _derive_field(field: dict[str, Json], old_ns: str, new_ns: str) -> dict[str, Json]:
    field = {key: value for key, value in field.items() if key != "provided"}   # what upstream received only
    avro_type = _derive_type(field["type"], old_ns, new_ns)
    if "category" not in field:
        return {**field, "type": avro_type}
    derived: dict[str, Json] = {}
    for key, value in field.items():
        if key == "type":
            derived["type"] = _nullable(avro_type)
            derived["default"] = None
        elif key != "default":
            derived[key] = value
    return derived


def derive_anonymized(source: Json, anonymized_topic: str) -> Json:
    """The anonymized topic's schema, derived field by field from its input topic's schema."""
    names = [field["name"] for field in source["fields"]]
    if LETHE_META_FIELD["name"] in names:
        msg = f"input schema {source.get('namespace')} already has a field named {LETHE_META_FIELD['name']!r}"
        raise ValueError(msg)
    old_ns: str = source.get("namespace", "")
    new_ns = f"lethe.{anonymized_topic}"
    if not old_ns:   # a schema without a namespace: its named types get the output's
        source = {**source, "namespace": ""}
    derived: Json = _derive_type(copy.deepcopy(source), old_ns, new_ns)
    derived["namespace"] = new_ns
    derived["doc"] = (
        f"Anonymized copy of {old_ns + '.' if old_ns else ''}{source['name']} for data teams, derived from it "
        "field by field: every field that carries a category is nullable (null when its strategy removes it, else "
        "the transformed value), free text is scrubbed, and field lethe records what was done. Keyed by "
        "the subject's pseudonym, never by the raw customer_id."
    )
    derived["fields"] = [*derived["fields"], copy.deepcopy(LETHE_META_FIELD)]
    return derived


def dumps(value: Json, indent: int = 0, width: int = 110) -> str:
    """JSON with every object or array that fits in the width on one line, like the hand-written schemas."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or indent + len(flat) <= width:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 2, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{dumps(v, indent + 2, width)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
