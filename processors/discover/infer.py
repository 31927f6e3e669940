"""Sampled JSON records merged into one tree of field statistics, then into an Avro schema.

Every field path gets a :class:`Node`: how often it was present, null, of which JSON kinds, a
bounded sample of its strings and numbers, its object fields in first-seen order and its array
items (path segment ``[]``). An object whose keys vary wildly from record to record (ids, e-mail
addresses or dates as keys) becomes a map (segment ``{}``). Nothing here decides what is personal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SAMPLE = 400          # values kept per field for the classifiers
KEEP_CHARS = 2000     # of each kept string: enough to see its shape, bounded for huge values
MAX_DEPTH = 64        # deeper records are not sampled (Lethe's decoder would reject most anyway)
DISTINCT_CAP = 5000   # distinct strings counted per field
MAP_MIN_KEYS = 12     # an object with fewer distinct keys in all is always a record
INT_MAX = 2**31 - 1
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEY_LIKE_VALUE = re.compile(r"[^A-Za-z_]|.*[@.:/\s]|.*\d{3,}")
_VALUE_KEY = re.compile(r"@|^\d[\d.:-]*$|^[0-9a-fA-F:.]{7,}$|\d{5,}|\s")


@dataclass(eq=False)
class Node:
    path: tuple[str, ...]
    parent: Node | None = None
    present: int = 0
    nulls: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    strings: list[str] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)
    numbers: list[float] = field(default_factory=list)
    number_min: float = float("inf")
    number_max: float = float("-inf")
    integral: bool = True
    objects: int = 0
    fields: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None
    values: Node | None = None   # a map's values (segment "{}")
    is_map: bool = False
    map_keys: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The field's own name; array items and map values take their container's."""
        for segment in reversed(self.path):
            if segment not in ("[]", "{}"):
                return segment
        return ""

    @property
    def dotted(self) -> str:
        """The path as the report shows it: ``items[].name``, ``attributes{}``."""
        out = ""
        for segment in self.path:
            out += segment if segment in ("[]", "{}") or not out else f".{segment}"
        return out

    @property
    def ancestors(self) -> tuple[str, ...]:
        """Names of the enclosing fields, nearest first."""
        names = [s for s in self.path[:-1] if s not in ("[]", "{}")]
        if self.path and self.path[-1] in ("[]", "{}"):
            names = names[:-1]
        return tuple(reversed(names))

    @property
    def siblings(self) -> tuple[str, ...]:
        if self.parent is None:
            return ()
        return tuple(name for name in self.parent.fields if name != self.path[-1])

    @property
    def in_array(self) -> bool:
        return "[]" in self.path[:-1] or (bool(self.path) and self.path[-1] == "[]")

    @property
    def opportunities(self) -> int:
        """How often this field could have been present (its object was seen)."""
        if self.parent is None:
            return self.present
        if self.path[-1] in ("[]", "{}"):
            return self.present
        return self.parent.objects

    @property
    def main_kind(self) -> str:
        kinds = [k for k in self.kinds if k != "null"]
        if not kinds:
            return "null"
        if set(kinds) == {"int", "float"}:
            return "float"
        return max(kinds, key=lambda k: self.kinds[k]) if len(kinds) > 1 else kinds[0]

    @property
    def optional(self) -> bool:
        return self.nulls > 0 or self.present < self.opportunities

    def observe(self, value: Any) -> None:
        self.present += 1
        if value is None:
            self.nulls += 1
            self.kinds["null"] += 1
        elif isinstance(value, bool):
            self.kinds["bool"] += 1
        elif isinstance(value, int):
            self.kinds["int"] += 1
            self._number(value)
        elif isinstance(value, float):
            self.kinds["float"] += 1
            self.integral = self.integral and value.is_integer()
            self._number(value)
        elif isinstance(value, str):
            self.kinds["string"] += 1
            if len(self.strings) < SAMPLE:
                self.strings.append(value[:KEEP_CHARS])
            if len(self.distinct) < DISTINCT_CAP:
                self.distinct.add(value[:KEEP_CHARS])
        elif isinstance(value, dict):
            self.kinds["object"] += 1
            self.objects += 1
            for key, inner in value.items():
                child = self.fields.get(key)
                if child is None:
                    child = self.fields[key] = Node((*self.path, str(key)), self)
                child.observe(inner)
        elif isinstance(value, list):
            self.kinds["array"] += 1
            if self.items is None:
                self.items = Node((*self.path, "[]"), self)
            for element in value:
                self.items.observe(element)

    def _number(self, value: float) -> None:
        self.number_min = min(self.number_min, value)
        self.number_max = max(self.number_max, value)
        if len(self.numbers) < SAMPLE:
            self.numbers.append(float(value))

    def merge(self, other: Node) -> None:
        """Add ``other``'s statistics (another key of the same map) to this node."""
        self.present += other.present
        self.nulls += other.nulls
        self.kinds.update(other.kinds)
        self.strings.extend(other.strings[: max(SAMPLE - len(self.strings), 0)])
        self.distinct.update(list(other.distinct)[: max(DISTINCT_CAP - len(self.distinct), 0)])
        self.numbers.extend(other.numbers[: max(SAMPLE - len(self.numbers), 0)])
        self.number_min = min(self.number_min, other.number_min)
        self.number_max = max(self.number_max, other.number_max)
        self.integral = self.integral and other.integral
        self.objects += other.objects
        for key, child in other.fields.items():
            mine = self.fields.get(key)
            if mine is None:
                self.fields[key] = _rebase(child, (*self.path, key), self)
            else:
                mine.merge(child)
        if other.items is not None:
            if self.items is None:
                self.items = _rebase(other.items, (*self.path, "[]"), self)
            else:
                self.items.merge(other.items)
        if other.values is not None:
            if self.values is None:
                self.values = _rebase(other.values, (*self.path, "{}"), self)
            else:
                self.values.merge(other.values)

    def walk(self) -> list[Node]:
        """This node and every node below it, depth first, in first-seen order."""
        out = [self]
        for child in self.fields.values():
            out.extend(child.walk())
        if self.items is not None:
            out.extend(self.items.walk())
        if self.values is not None:
            out.extend(self.values.walk())
        return out


def _rebase(node: Node, path: tuple[str, ...], parent: Node) -> Node:
    node.path, node.parent = path, parent
    for key, child in node.fields.items():
        _rebase(child, (*path, key), node)
    if node.items is not None:
        _rebase(node.items, (*path, "[]"), node)
    if node.values is not None:
        _rebase(node.values, (*path, "{}"), node)
    return node


def sample_tree(records: list[dict[str, Any]]) -> Node:
    """The statistics of every field path of ``records`` (JSON objects), maps detected."""
    root = Node(())
    for record in records:
        root.observe(record)
    _find_maps(root, top=True)
    return root


def _find_maps(node: Node, top: bool = False) -> None:
    if not top and _looks_like_map(node):
        _to_map(node)
    for child in node.fields.values():
        _find_maps(child)
    if node.items is not None:
        _find_maps(node.items)
    if node.values is not None:
        _find_maps(node.values)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests objects and arrays deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return False


def _looks_like_map(node: Node) -> bool:
    keys = list(node.fields)
    if node.objects == 0 or not keys:
        return False
    if len(keys) == 1:   # one key that is a value (an e-mail, an IP, a number) must not become a field name
        return bool(_VALUE_KEY.search(keys[0]))
    odd = sum(1 for key in keys if not _AVRO_NAME.match(key) or _KEY_LIKE_VALUE.match(key))
    if odd >= 0.8 * len(keys):
        return True
    if len(keys) < MAP_MIN_KEYS:
        return False
    per_object = sum(child.present for child in node.fields.values()) / node.objects
    return per_object / len(keys) < 0.3


def _to_map(node: Node) -> None:
    values = Node((*node.path, "{}"), node)
    for key, child in node.fields.items():
        if len(node.map_keys) < SAMPLE:
            node.map_keys.append(key)
        values.merge(_rebase(child, (*node.path, "{}"), node))
    node.fields = {}
    node.is_map = True
    node.values = values
