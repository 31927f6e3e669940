"""Checks on the Avro contracts in schemas/.

Run this file as a script to regenerate the anonymized schemas from their input schemas:
    python tests/processors/test_schemas.py
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import fastavro.validation
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from processors.derive import derive_anonymized, dumps
from processors.policy import CATEGORIES

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
HISTORY = SCHEMAS / "history"
EXAMPLES = SCHEMAS / "examples"

INPUT_TOPICS = ["orders.v1", "logs.v1", "consent.v1", "privacy-requests.v1", "legal-holds.v1"]
ANONYMIZED_FROM = {"orders.anonymized.v1": "orders.v1", "logs.anonymized.v1": "logs.v1"}
TOPICS = [
    *INPUT_TOPICS,
    *ANONYMIZED_FROM,
    "lifecycle.commands.v1",
    "lifecycle.acks.v1",
    "privacy.audit.v1",
    "privacy.exports.v1",
    "privacy.sharing.v1",
    "dlq.v1",
]
FORMATS = frozenset(
    {"timestamp", "ip", "user_agent", "latitude", "longitude", "postcode", "url", "identifier", "subject", "date"}
)

Json = Any


def topic_of(path: Path) -> str:
    return path.name.removesuffix(".avsc")


def load(path: Path) -> Json:
    return json.loads(path.read_text(encoding="utf-8"))


def current_schema_files() -> list[Path]:
    return sorted(SCHEMAS.glob("*.avsc"))


def history_files() -> list[Path]:
    return sorted(HISTORY.glob("*/*.avsc"))


def iter_fields(avro_type: Json, prefix: str = "") -> Iterator[tuple[str, dict[str, Json]]]:
    """Yield (dotted path, field) for every field of every record inside avro_type, at any depth."""
    if isinstance(avro_type, list):
        for branch in avro_type:
            yield from iter_fields(branch, prefix)
    elif isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind == "record":
            for field in avro_type["fields"]:
                path = f"{prefix}{field['name']}"
                yield path, field
                yield from iter_fields(field["type"], f"{path}.")
        elif kind == "array":
            yield from iter_fields(avro_type["items"], prefix)
        elif kind == "map":
            yield from iter_fields(avro_type["values"], prefix)
        elif isinstance(kind, (dict, list)):
            yield from iter_fields(kind, prefix)


# --- derivation of the anonymized schemas (processors/derive.py: Lethe derives them at start-up) ---


def write_anonymized_schemas() -> None:
    for anonymized_topic, source_topic in ANONYMIZED_FROM.items():
        derived = derive_anonymized(load(SCHEMAS / f"{source_topic}.avsc"), anonymized_topic)
        target = SCHEMAS / f"{anonymized_topic}.avsc"
        target.write_text(dumps(derived) + "\n", encoding="utf-8")


# --- tests --------------------------------------------------------------------------------------

ALL_SCHEMA_FILES = [*current_schema_files(), *history_files()]


def _rel(path: Path) -> str:
    return str(path.relative_to(SCHEMAS))


def test_every_topic_has_a_current_schema_and_nothing_else() -> None:
    assert sorted(topic_of(path) for path in current_schema_files()) == sorted(TOPICS)


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_a_released_v1(topic: str) -> None:
    assert (HISTORY / topic / "v1.avsc").is_file()


def test_history_holds_only_known_topics() -> None:
    assert {path.name for path in HISTORY.iterdir() if path.is_dir()} <= set(TOPICS)


@pytest.mark.parametrize("path", ALL_SCHEMA_FILES, ids=_rel)
def test_schema_parses_with_avro_and_fastavro(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    avro.schema.parse(text)
    fastavro.parse_schema(json.loads(text))


@pytest.mark.parametrize("path", ALL_SCHEMA_FILES, ids=_rel)
def test_schema_declares_its_version(path: Path) -> None:
    version = load(path).get("version")
    assert isinstance(version, int)
    assert version >= 1


@pytest.mark.parametrize("path", ALL_SCHEMA_FILES, ids=_rel)
def test_categories_are_known(path: Path) -> None:
    unknown = {
        field_path: field["category"]
        for field_path, field in iter_fields(load(path))
        if "category" in field and field["category"] not in CATEGORIES
    }
    assert unknown == {}


@pytest.mark.parametrize("path", ALL_SCHEMA_FILES, ids=_rel)
def test_format_and_scan_attributes_are_well_formed(path: Path) -> None:
    fields = dict(iter_fields(load(path)))
    bad_formats = {p: f["format"] for p, f in fields.items() if "format" in f and f["format"] not in FORMATS}
    bad_scans = {p: f["scan"] for p, f in fields.items() if "scan" in f and f["scan"] is not True}
    assert bad_formats == {}
    assert bad_scans == {}


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_input_topic_example_validates(topic: str) -> None:
    schema = fastavro.parse_schema(load(SCHEMAS / f"{topic}.avsc"))
    example = load(EXAMPLES / f"{topic}.json")
    assert fastavro.validation.validate(example, schema, raise_errors=True)


def _compatibility(reader: Json, writer: Json) -> SchemaCompatibilityType:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    compatibility: SchemaCompatibilityType = result.compatibility
    return compatibility


COMPAT_PAIRS = [
    (current, released)
    for current in current_schema_files()
    for released in sorted((HISTORY / topic_of(current)).glob("*.avsc"))
]


@pytest.mark.parametrize(
    ("current", "released"), COMPAT_PAIRS, ids=[_rel(released) for _, released in COMPAT_PAIRS]
)
def test_current_schema_reads_every_released_version(current: Path, released: Path) -> None:
    assert _compatibility(reader=load(current), writer=load(released)) is SchemaCompatibilityType.compatible
    assert load(current)["version"] >= load(released)["version"]


def test_compat_check_rejects_a_new_required_field() -> None:
    old = load(SCHEMAS / "orders.v1.avsc")
    new = copy.deepcopy(old)
    new["fields"].append({"name": "loyalty_tier", "type": "string"})
    assert _compatibility(reader=new, writer=old) is SchemaCompatibilityType.incompatible
    new["fields"][-1]["default"] = "none"
    assert _compatibility(reader=new, writer=old) is SchemaCompatibilityType.compatible


def test_compat_check_rejects_a_removed_enum_symbol() -> None:
    old = load(SCHEMAS / "consent.v1.avsc")
    new = copy.deepcopy(old)
    purpose = next(field for field in new["fields"] if field["name"] == "purpose")
    purpose["type"]["symbols"].remove("cookies_advertising")
    assert _compatibility(reader=new, writer=old) is SchemaCompatibilityType.incompatible


@pytest.mark.parametrize("anonymized_topic", sorted(ANONYMIZED_FROM))
def test_anonymized_schema_is_derived_from_its_input(anonymized_topic: str) -> None:
    source = load(SCHEMAS / f"{ANONYMIZED_FROM[anonymized_topic]}.avsc")
    checked_in = load(SCHEMAS / f"{anonymized_topic}.avsc")
    assert checked_in == derive_anonymized(source, anonymized_topic), (
        "regenerate with: python tests/processors/test_schemas.py"
    )


def _null_categorised(record: Json, avro_type: Json) -> Json:
    """The example with every categorised value removed, the most an anonymizer may drop."""
    fields = {field["name"]: field for field in avro_type["fields"]}
    out: dict[str, Json] = {}
    for name, value in record.items():
        field = fields[name]
        branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
        nested = next((b for b in branches if isinstance(b, dict) and b["type"] == "record"), None)
        if "category" in field:
            out[name] = None
        elif nested is not None and isinstance(value, dict):
            out[name] = _null_categorised(value, nested)
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("anonymized_topic", sorted(ANONYMIZED_FROM))
def test_anonymized_schema_accepts_a_fully_scrubbed_example(anonymized_topic: str) -> None:
    source_topic = ANONYMIZED_FROM[anonymized_topic]
    source = load(SCHEMAS / f"{source_topic}.avsc")
    scrubbed = _null_categorised(load(EXAMPLES / f"{source_topic}.json"), source)
    scrubbed["lethe"] = {"policy": "2026-09-01", "tags": {"customer_id": "identifier.customer:pseudonymize"}}
    schema = fastavro.parse_schema(load(SCHEMAS / f"{anonymized_topic}.avsc"))
    assert fastavro.validation.validate(scrubbed, schema, raise_errors=True)


def test_derivation_makes_categorised_fields_nullable_at_any_depth() -> None:
    source: Json = {
        "type": "record",
        "name": "E",
        "namespace": "lethe.t.v1",
        "fields": [
            {"name": "a", "type": "string", "category": "contact.email", "doc": "x"},
            {"name": "b", "type": ["null", "int"], "default": None, "category": "free_text"},
            {"name": "c", "type": "string"},
            {
                "name": "d",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "R",
                        "fields": [{"name": "e", "type": "lethe.t.v1.E2", "category": "identity.name"}],
                    },
                },
            },
        ],
    }
    derived = derive_anonymized(source, "t.anonymized.v1")
    assert derived["namespace"] == "lethe.t.anonymized.v1"
    assert derived["fields"][0] == {
        "name": "a",
        "type": ["null", "string"],
        "default": None,
        "category": "contact.email",
        "doc": "x",
    }
    assert derived["fields"][1]["type"] == ["null", "int"]
    assert derived["fields"][2] == {"name": "c", "type": "string"}
    nested = derived["fields"][3]["type"]["items"]["fields"][0]
    assert nested == {
        "name": "e",
        "type": ["null", "lethe.t.anonymized.v1.E2"],
        "default": None,
        "category": "identity.name",
    }
    assert [field["name"] for field in derived["fields"]] == ["a", "b", "c", "d", "lethe"]
    assert source["fields"][0]["type"] == "string", "the source must not be mutated"


if __name__ == "__main__":
    write_anonymized_schemas()
