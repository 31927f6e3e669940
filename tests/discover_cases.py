"""What the tests of ``lethe discover``'s classifiers share (tests/processors/discover/test_classify_*.py).

``field_at("customer.email", values)`` samples one record per value with the value at that path
(``[]`` marks an array of records) and returns the classifier's view of that field.
``classifier_tests(RULE, FOUND, IGNORED)`` builds the two table-driven tests each file binds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from processors.discover.classify import Classifier, Field
from processors.discover.infer import Node, sample_tree

Case = tuple[str, Sequence[Any], str | None]


def _nest(parts: list[str], leaf: dict[str, Any]) -> dict[str, Any]:
    if not parts:
        return leaf
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        return {head[:-2]: [_nest(rest, leaf)]}
    return {head: _nest(rest, leaf)}


def field_at(path: str, values: Sequence[Any], siblings: dict[str, Any] | None = None) -> Field:
    *parents, name = path.split(".")
    records = [_nest(parents, {name: value, **(siblings or {})}) for value in values]
    root = sample_tree(records)
    node: Node | None = root
    for part in parents:
        assert node is not None
        node = node.fields[part[:-2]].items if part.endswith("[]") else node.fields[part]
    assert node is not None
    return Field(node.fields[name])


def strongest(rule: Classifier, field: Field) -> str | None:
    evidence = rule.classify(field)
    if not evidence:
        return None
    return max(evidence, key=lambda item: item.weight).category


def classifier_tests(rule: Classifier, found: Sequence[Case], ignored: Sequence[tuple[str, Sequence[Any]]]
                     ) -> tuple[Callable[..., None], Callable[..., None]]:
    """`test_finds`: the rule's strongest evidence names the expected category (None = "not personal");
    `test_ignores`: the rule says nothing personal about the field."""

    @pytest.mark.parametrize(("path", "values", "expected"), found, ids=[case[0] for case in found])
    def test_finds(path: str, values: Sequence[Any], expected: str | None) -> None:
        field = field_at(path, values)
        evidence = rule.classify(field)
        assert evidence, f"{rule.name} found nothing for {path}"
        assert strongest(rule, field) == expected

    @pytest.mark.parametrize(("path", "values"), ignored, ids=[case[0] for case in ignored])
    def test_ignores(path: str, values: Sequence[Any]) -> None:
        field = field_at(path, values)
        assert [item for item in rule.classify(field) if item.category] == []

    return test_finds, test_ignores


EMAILS = ["ana.garcia@correo.example", "jonas.berg@mail.example", "lea@exemple.fr", "tom.k@firma.example"] * 5
PHONES = ["+49 30 1234567", "+33 1 42 68 53 00", "+34 912 345 678", "+1 415 555 0132"] * 5
NAMES = ["Ana García", "Jonas Berg", "Léa Dubois", "Tom Kowalski", "Marta Rossi"] * 4
UUIDS = [f"3f2c9a1e-8b7d-4c6e-9f0a-1b2c3d4e5f{i:02d}" for i in range(20)]
TIMES = [f"2026-10-{d:02d}T08:15:00Z" for d in range(1, 21)]


def shipped_fields(fields: list[dict[str, Any]], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for field in fields:
        path = f"{prefix}{field['name']}"
        yield path, field
        types = field["type"] if isinstance(field["type"], list) else [field["type"]]
        for branch in types:
            if isinstance(branch, dict) and branch.get("type") == "array":
                branch = branch["items"]
            if isinstance(branch, dict) and branch.get("type") == "record":
                yield from shipped_fields(branch["fields"], f"{path}.")


def attributes(field: dict[str, Any]) -> tuple[Any, Any, bool]:
    return field.get("category"), field.get("format"), bool(field.get("scan"))
