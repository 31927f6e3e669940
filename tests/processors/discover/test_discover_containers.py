"""Arrays and maps in a discovered schema: records inside them are tagged field by field, so the
proposed output keeps their other fields; arrays and maps of plain values, and maps keyed by personal
values, carry a category of their own and are anonymized whole. The proposal, pasted as written,
passes the start-up checks and leaks nothing in either output encoding."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import fastavro
import pytest

from processors.derive import derive_anonymized
from processors.discover.propose import discover
from processors.discover.schema import build_schema
from processors.discover.stanza import policy_text
from processors.pipeline import TopicPipeline
from processors.policy import load_policy
from processors.schemas import SchemaCatalog
from processors.sources import check_sources

NAMES = ["Lena Berg", "Jonas Vogel", "Ana Ruiz", "Marta Rossi"]


def basket(n: int) -> dict[str, Any]:
    return {
        "basket_id": f"B-{n:05d}", "created_at": f"2026-11-{n % 28 + 1:02d}T08:00:00Z",
        "customer_id": f"cust-{n % 40:04d}",
        "lines": [{"sku": f"SKU-{n % 90 + 1000}", "quantity": n % 3 + 1, "unit_price": 9.5,
                   "recipient_email": f"gift{n}@mail.example", "recipient_name": NAMES[n % 4]},
                  {"sku": "SKU-2000", "quantity": 1, "unit_price": 3.0,
                   "recipient_email": f"gift{n}b@mail.example", "recipient_name": NAMES[(n + 1) % 4]}],
        "custom_fields": {f"cf_{1000 + n % 50}": {"label": "Call back on",
                                                  "value": f"Please call me on +49 170 555 {n:04d} after six"}},
        "phones": [f"+49 30 {n:07d}"],
        "read_by": {f"agent{n % 30}@shop.example": f"2026-11-01T09:{n % 60:02d}:00Z"},
        "boxes": [[{"width_cm": 30, "owner_email": f"box{n}@mail.example"}]],
        "labels": [{"color": "red", "size": n % 4}],
    }


RECORDS = [basket(n) for n in range(150)]


@pytest.fixture(scope="module")
def result() -> Any:
    return discover(RECORDS, "baskets.v1")


@pytest.mark.parametrize(("path", "expected"), [
    ("lines", None),                            # an array of records: not tagged itself ...
    ("lines[].recipient_email", "contact.email"),   # ... its personal fields are
    ("lines[].recipient_name", "identity.name"),
    ("lines[].sku", None),
    ("lines[].quantity", None),
    ("custom_fields", None),                    # a map of records, the same
    ("custom_fields{}.value", "free_text"),
    ("custom_fields{}.label", None),
    ("boxes", None),                            # records in an array in an array
    ("boxes[][].owner_email", "contact.email"),
    ("boxes[][].width_cm", None),
    ("labels", None),                           # nothing personal anywhere
    ("phones", "contact.phone"),                # plain values: only the array can carry the category
    ("read_by", "contact.email"),               # keys are e-mail addresses: only the whole map can go
], ids=lambda value: str(value))
def test_categories_inside_arrays_and_maps(result: Any, path: str, expected: str | None) -> None:
    category = {report.path: report.decision.category for report in result.fields}
    assert category[path] == expected


def test_an_array_of_records_and_strings_is_tagged_whole() -> None:
    records = [{"event_id": f"e{n}", "people": [{"email": f"p{n}@mail.example"}, f"q{n}@mail.example"]}
               for n in range(40)]
    category = {report.path: report.decision.category for report in discover(records, "mixed.v1").fields}
    assert category["people"] == "contact.email"   # the plain strings can only go with the array


def test_the_fields_of_an_array_of_records_read_its_name_as_context() -> None:
    records = [{"event_id": f"e{n}", "addresses": [{"a": f"x{n % 3}", "b": n % 2}]} for n in range(40)]
    result = discover(records, "addr.v1")
    category = {report.path: report.decision.category for report in result.fields}
    assert (category["addresses"], category["addresses[].a"]) == (None, "contact.address")
    assert [report.path for report in result.review] == ["addresses[].a"]


@pytest.fixture(scope="module")
def pasted(tmp_path_factory: pytest.TempPathFactory, default_policy_path: Path, result: Any
           ) -> tuple[SchemaCatalog, Any, dict[str, Any]]:
    """The proposal as a user pastes it: the schema in LETHE_SCHEMAS_DIR, the stanza after the policy."""
    schema = build_schema(result)
    schemas = tmp_path_factory.mktemp("schemas")
    (schemas / "baskets.v1.avsc").write_text(json.dumps(schema))
    defaults = tomllib.loads(default_policy_path.read_text())["categories"]
    policy_path = schemas.parent / "policy.toml"
    policy_path.write_text(default_policy_path.read_text() + "\n"
                           + policy_text(result, schema, "baskets.v1.avsc", defaults))
    policy, catalog = load_policy(policy_path), SchemaCatalog.load(schemas)
    check_sources(policy, catalog)
    return catalog, policy, schema


def anonymized(pasted: tuple[SchemaCatalog, Any, dict[str, Any]], encoding: str) -> list[dict[str, Any]]:
    catalog, policy, schema = pasted
    pipe = TopicPipeline(catalog, policy, "baskets.v1", b"k" * 32, encoding=encoding)
    decoded = pipe.decode([json.dumps(r).encode() for r in RECORDS])
    assert decoded.dead == []
    batch = pipe.anonymize(decoded, dict.fromkeys(decoded.subjects, b"s" * 32))
    assert len(batch.outputs) == len(RECORDS)
    if encoding == "json":
        return [json.loads(out.value) for out in batch.outputs]
    derived = fastavro.parse_schema(derive_anonymized(schema, "baskets.anonymized.v1"))
    return [fastavro.schemaless_reader(io.BytesIO(out.value[10:]), derived, derived) for out in batch.outputs]


def personal_values(record: dict[str, Any]) -> list[str]:
    return [*(v for line in record["lines"] for v in (line["recipient_email"], line["recipient_name"])),
            *record["phones"], *record["read_by"], record["boxes"][0][0]["owner_email"], record["customer_id"],
            record["custom_fields"][next(iter(record["custom_fields"]))]["value"][19:35]]


@pytest.mark.parametrize("encoding", ["json", "avro"])
def test_the_pasted_proposal_leaks_nothing_and_keeps_the_rest(
        pasted: tuple[SchemaCatalog, Any, dict[str, Any]], encoding: str) -> None:
    outputs = anonymized(pasted, encoding)
    text = json.dumps(outputs, ensure_ascii=False)
    assert [v for r in RECORDS for v in personal_values(r) if v in text] == []
    for record, out in zip(RECORDS, outputs, strict=True):
        assert [(line["sku"], line["quantity"], line["unit_price"]) for line in out["lines"]] == \
               [(line["sku"], line["quantity"], line["unit_price"]) for line in record["lines"]]
        assert [line["recipient_email"] for line in out["lines"]] == [None, None]
        [(key, entry)] = out["custom_fields"].items()
        assert key in record["custom_fields"] and entry["label"] == "Call back on"
        assert isinstance(entry["value"], str)   # free text is transformed in place (redact, derive), not dropped
        assert out["boxes"][0][0]["width_cm"] == 30 and out["labels"] == record["labels"]
        assert out["phones"] is None and out["read_by"] is None
