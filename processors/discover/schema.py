"""The proposed Avro schema: the sampled types, with Lethe's ``category``, ``format``, ``scan`` and
``review`` attributes on every field discovery tagged (schemas/README.md describes them)."""

from __future__ import annotations

import re
from typing import Any

from processors.discover.decide import Decision
from processors.discover.infer import INT_MAX, Node
from processors.discover.propose import Discovery
from processors.discover.tokens import has, tokens

_NON_NAME = re.compile(r"[^A-Za-z0-9]+")
# numbers that are fractional by nature even when every sampled value happened to be whole
_DECIMAL = ("amount", "total", "price", "sum", "betrag", "montant", "importe", "preis", "prix", "precio",
            "lat", "latitude", "lon", "lng", "longitude", "cost", "fee", "value", "rate", "ms", "score")


def build_schema(result: Discovery) -> dict[str, Any]:
    names: set[str] = set()
    namespace = "lethe.discovered." + ".".join(_avro_name(part).lower() for part in result.topic.split("."))
    record = _record(result.root, _camel(result.topic.split(".")[0]) + "Event", result, names)
    return {"type": "record", "name": record["name"], "namespace": namespace,
            "doc": f"Proposed by `lethe discover` from {result.records} sampled records of {result.topic}; "
                   "review before use.", "version": 1, "fields": record["fields"]}


def _record(node: Node, name: str, result: Discovery, names: set[str]) -> dict[str, Any]:
    unique, number = name, 2
    while unique in names:
        unique, number = f"{name}{number}", number + 1
    names.add(unique)
    fields = []
    for key, child in node.fields.items():
        entry: dict[str, Any] = {"name": key, "type": _type(child, result, names)}
        if isinstance(entry["type"], list) and entry["type"][0] == "null":
            entry["default"] = None
        decision = result.decisions.get(child.path)
        if decision is not None:
            _attributes(entry, decision)
        fields.append(entry)
    return {"type": "record", "name": unique, "fields": fields}


def _attributes(entry: dict[str, Any], decision: Decision) -> None:
    if decision.category:
        entry["category"] = decision.category
    if decision.format:
        entry["format"] = decision.format
    if decision.scan and decision.category:
        entry["scan"] = True
    if decision.review:
        entry["review"] = decision.review


def _type(node: Node, result: Discovery, names: set[str]) -> Any:
    branches: list[Any] = []
    kinds = set(node.kinds) - {"null"}
    if "object" in kinds:
        if node.is_map:
            values = _type(node.values, result, names) if node.values is not None else "string"
            branches.append({"type": "map", "values": values})
        else:
            branches.append(_record(node, _camel(node.name), result, names))
    if "array" in kinds:
        items = node.items
        item_type = _type(items, result, names) if items is not None and items.present else "string"
        branches.append({"type": "array", "items": item_type})
    if "string" in kinds:
        branches.append("string")
    if "float" in kinds or ("int" in kinds and has(tokens(node.name), _DECIMAL)):
        branches.append("double")
    elif "int" in kinds:
        big = max(abs(node.number_min), abs(node.number_max)) > INT_MAX
        branches.append("long" if big else "int")
    if "bool" in kinds:
        branches.append("boolean")
    if not branches:
        branches.append("string")   # only nulls were seen
    if node.optional:
        return ["null", *branches]
    return branches[0] if len(branches) == 1 else branches


def _avro_name(text: str) -> str:
    name = _NON_NAME.sub("_", text).strip("_") or "field"
    return name if not name[0].isdigit() else f"_{name}"


def _camel(text: str) -> str:
    name = "".join(part[:1].upper() + part[1:] for part in _NON_NAME.split(text) if part) or "Record"
    return name if not name[0].isdigit() else f"R{name}"
