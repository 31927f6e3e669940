"""What the subject provided (schema attribute ``provided``, processors/provided.py): the categories a
portability export asks stores for, per family; the attribute leaves every Avro fingerprint as it was."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tickets import SCHEMA as TICKETS

from processors.errors import PolicyError
from processors.provided import Provided, provided_by_family, provided_in, with_provided
from processors.rights import Rights
from processors.schemas import SchemaCatalog, default_schema_dir
from processors.sources import SHIPPED, Source

SCHEMAS = default_schema_dir()


def marked(schema: dict[str, Any], *paths: str) -> dict[str, Any]:
    """``schema`` with ``"provided": true`` on the fields at the dotted ``paths`` (through records,
    unions, arrays' items and maps' values)."""
    out = copy.deepcopy(schema)
    for path in paths:
        fields: list[dict[str, Any]] = out["fields"]
        for step in path.split("."):
            f = next(f for f in fields if f["name"] == step)
            fields = _inner_fields(f["type"])
        f["provided"] = True
    return out


def _inner_fields(avro_type: Any) -> list[dict[str, Any]]:
    for branch in avro_type if isinstance(avro_type, list) else [avro_type]:
        if isinstance(branch, dict) and branch["type"] in ("array", "map"):
            return _inner_fields(branch["items" if branch["type"] == "array" else "values"])
        if isinstance(branch, dict) and branch["type"] == "record":
            fields: list[dict[str, Any]] = branch["fields"]
            return fields
    return []


@pytest.mark.parametrize(("paths", "categories", "mixed"), [
    ((), (), ()),
    (("reporter.name",), ("identity.name",), ("identity.name",)),   # messages[].author is identity.name too
    (("reporter.name", "messages.author"), ("identity.name",), ()),
    # a mark on a record covers what is inside it, through unions
    (("reporter",), ("identifier.customer", "identity.name", "contact.email", "contact.phone"),
     ("identity.name", "contact.email")),
    (("reporter.contact",), ("contact.email", "contact.phone"), ("contact.email",)),
    # through arrays and maps, at any depth
    (("messages",), ("identity.name", "free_text", "network.ip"), ("identity.name", "free_text")),
    (("messages.attachments",), ("network.ip",), ()),
    (("custom", "messages.body"), ("free_text",), ()),
    # a provided field without a category adds none (no store column can be matched to it)
    (("ticket_id", "custom.label"), (), ()),
    (("assignee",), ("contact.email",), ("contact.email",)),
    (("device.geo", "session"), ("location.precise", "identifier.session"), ()),
])
def test_provided_categories(paths: tuple[str, ...], categories: tuple[str, ...], mixed: tuple[str, ...]) -> None:
    assert provided_in(marked(TICKETS, *paths), "tickets.v1") == Provided(categories, mixed)


def test_a_name_that_merely_starts_like_a_marked_field_is_not_inside_it() -> None:
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "note", "type": "string", "category": "free_text", "provided": True},
        {"name": "notes_internal", "type": "string", "category": "identity.name"}]}
    assert provided_in(schema, "r") == Provided(("free_text",), ())


@pytest.mark.parametrize("value", ["yes", 1, None, ["true"]])
def test_provided_is_true_or_false(value: Any) -> None:
    schema = marked(TICKETS, "reporter.name")
    schema["fields"][3]["type"]["fields"][1]["provided"] = value
    with pytest.raises(PolicyError, match=r"field reporter.name has provided = .* \(rule: provided is true or false\)"):
        provided_in(schema, "tickets.v1")


def test_the_shipped_sources_provide_contact_details_and_notes_and_observe_logs() -> None:
    catalog = SchemaCatalog.load(SCHEMAS)
    assert provided_by_family(SHIPPED, catalog) == {
        "orders": Provided(("identity.name", "contact.email", "contact.phone", "identity.dob", "contact.address",
                            "free_text"), ()),
        "logs": Provided(),
    }
    rights, notes = with_provided(Rights(), SHIPPED, catalog)
    assert rights.provided == {"orders": ("identity.name", "contact.email", "contact.phone", "identity.dob",
                                          "contact.address", "free_text")}
    assert notes == [] and rights.families == Rights().families


def test_sources_of_one_family_add_up_and_a_mixed_category_is_said(tmp_path: Path) -> None:
    (tmp_path / "tickets.v1.avsc").write_text(json.dumps(marked(TICKETS, "reporter.name", "session")))
    (tmp_path / "tickets.v2.avsc").write_text(json.dumps(
        {**marked(TICKETS, "messages.body"), "name": "TicketEventV2"}))
    catalog = SchemaCatalog.load(tmp_path)
    sources = {topic: Source(topic, f"{topic}.avsc", "records", ("reporter", "id"), ("ticket_id",), ("opened_at",))
               for topic in ("tickets.v1", "tickets.v2")}
    rights, notes = with_provided(Rights(), sources, catalog)
    assert rights.provided == {"tickets": ("identity.name", "identifier.session", "free_text")}
    assert notes == [f"family tickets: category {category} is on provided and observed fields; a portability "
                     "export holds every store column of it (mark all of its fields provided, or none)"
                     for category in ("identity.name", "free_text")]   # messages[].author, custom{}.value


def _without_provided(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_provided(v) for k, v in value.items() if k != "provided"}
    if isinstance(value, list):
        return [_without_provided(v) for v in value]
    return value


MARKED = [path for path in sorted(SCHEMAS.glob("*.avsc")) if '"provided"' in path.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", MARKED, ids=lambda path: path.name)
def test_the_attribute_leaves_the_fingerprint_as_it_was(path: Path, tmp_path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert _without_provided(raw) != raw
    (tmp_path / path.name).write_text(json.dumps(_without_provided(raw)))
    shipped, unmarked = SchemaCatalog.load(SCHEMAS), SchemaCatalog.load(tmp_path)
    assert unmarked.current[path.stem].raw != shipped.current[path.stem].raw
    assert unmarked.current[path.stem].fingerprint == shipped.current[path.stem].fingerprint
    derived = shipped.output(f"{path.stem}.anonymized", shipped.current[path.stem])
    assert derived.raw == unmarked.output(f"{path.stem}.anonymized", unmarked.current[path.stem]).raw
    assert '"provided"' not in json.dumps(derived.raw)   # outputs do not say what upstream was given


def test_orders_is_marked() -> None:
    assert [path.name for path in MARKED] == ["orders.v1.avsc"]
