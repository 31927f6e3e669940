"""What the data subject provided (policy section 5, portability), as the sources' schemas mark it.

Upstream teams mark a field that the subject typed or chose with ``"provided": true`` in its
schema (schemas/README.md); a mark on a record, array or map covers everything inside it. Store
agents know columns by data category only (their mapping), so a portability export asks each
family's stores for the *categories* of its provided fields: a store exports the columns mapped to
them, plus its key column. Compiled once at start-up into :class:`~processors.rights.Rights`.

A category that the schema carries on provided and on observed fields alike cannot be told apart
in a store (the subject's own data either way): its columns are exported, and start-up says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from processors.errors import PolicyError
from processors.sources import Source, every_field

if TYPE_CHECKING:
    from processors.rights import Rights
    from processors.schemas import SchemaCatalog


@dataclass(frozen=True)
class Provided:
    """One schema's provided fields, by what a store can match."""

    categories: tuple[str, ...] = ()   # of the fields marked provided, in schema order
    mixed: tuple[str, ...] = ()        # of those, the ones that fields not provided carry too


def provided_fields(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted path, field, provided) of every field; a mark covers what is nested inside the field."""
    marked: list[str] = []
    for path, f in every_field(schema):
        mark = f.get("provided", False)
        if not isinstance(mark, bool):
            raise PolicyError(f"{where}: field {path} has provided = {mark!r} (rule: provided is true or false)")
        if mark:
            marked.append(path)
        inside = any(path.startswith(f"{outer}{sep}") for outer in marked for sep in (".", "[].", "{}."))
        yield path, f, mark or inside


def provided_in(schema: Any, where: str) -> Provided:
    categories: dict[str, None] = {}
    observed: set[str] = set()
    for _path, f, provided in provided_fields(schema, where):
        category = f.get("category")
        if category is not None and provided:
            categories[category] = None
        elif category is not None:
            observed.add(category)
    return Provided(tuple(categories), tuple(c for c in categories if c in observed))


def provided_by_family(sources: Mapping[str, Source], catalog: SchemaCatalog) -> dict[str, Provided]:
    """Per family of the sources (two sources of one family: the union), what its subjects provided."""
    found: dict[str, Provided] = {}
    for source in sources.values():
        schema = catalog.current.get(source.schema_name)
        if schema is None:
            continue   # check_sources names a missing schema
        one = provided_in(schema.raw, f'sources."{source.topic}" ({source.schema})')
        had = found.get(source.family, Provided())
        found[source.family] = Provided(tuple(dict.fromkeys(had.categories + one.categories)),
                                        tuple(dict.fromkeys(had.mixed + one.mixed)))
    return found


def with_provided(rights: Rights, sources: Mapping[str, Source], catalog: SchemaCatalog) -> tuple[Rights, list[str]]:
    """``rights`` knowing each family's provided categories, and what start-up should warn about
    (field paths and categories only)."""
    found = provided_by_family(sources, catalog)
    notes = [f"family {family}: category {category} is on provided and observed fields; a portability export "
             "holds every store column of it (mark all of its fields provided, or none)"
             for family, provided in found.items() for category in provided.mixed]
    return replace(rights, provided={family: provided.categories for family, provided in found.items()
                                     if provided.categories}), notes
