"""A tagging and anonymization plan, compiled once per (input schema, output policy).

The plan lists every personal field of the schema (from its ``category`` attribute) with the
transform the policy chose for it. Applying it to a record tags each present personal field
(path -> "category:strategy") and rewrites it in place; free-text fields also report which
categories were found and redacted inside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from processors.errors import PolicyError
from processors.partners import Tree, declares, project, projection_tree
from processors.plan_codegen import ApplyFn, generate_apply, in_container
from processors.policy import OutputPolicy, Policy
from processors.strategies import STRATEGIES, FieldInfo, Transform
from processors.strategies.base import CONTAINERS

_NAME_TOKEN = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class FieldOp:
    info: FieldInfo
    strategy: str
    transform: Transform
    tag: str
    collects_context: bool
    found_inside: bool   # free-text style: the transform reports what it found
    parents: tuple[str, ...] = ()
    name: str = ""
    dotted: str = ""
    category: str = ""
    is_name: bool = False


@dataclass(frozen=True)
class Plan:
    output: str
    policy_version: str
    ops: tuple[FieldOp, ...]
    subject_path: tuple[str, ...] | None
    fallback_key_path: tuple[str, ...] | None
    context_min_length: int

    _apply: ApplyFn | None = None
    # a partner's declared fields (None: the output publishes every field)
    projection: Tree | None = None
    # the records the ops write into, by path (a leaf None: a whole array or map, deep)
    writes: Tree | None = None
    # whether a partner's plan reads the whole record (``source``) when it counts no tags: to hand the
    # values of fields it does not publish to the record context, or for a field below an array or map
    reads_source: bool = False

    def apply(self, record: dict[str, Any], subject_key: bytes, tagged: dict[str, int] | None = None) -> dict[str, str]:
        """Anonymize ``record`` in place; return its tags (field path -> category:strategy).

        ``tagged``, when given, counts tagged fields and free-text findings per category.
        Redacting ops come last; the ops before them hand their original values to the record
        context on the way, so free text is searched for every other personal value. A partner's
        plan leaves the fields it does not publish as they are (:meth:`publish` cuts them away).
        """
        assert self._apply is not None
        if tagged is None:
            return self._apply(record, subject_key, None, record)
        found: list[str] = []
        tags = self._apply(record, subject_key, found, record)
        for category in found:
            tagged[category] = tagged.get(category, 0) + 1
        return tags

    def publish(self, record: dict[str, Any], subject_key: bytes, tagged: list[str] | None,
                keep: bool, own: tuple[str, str] | None = None,
                projected: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """The record this plan's output publishes, and its tags. With ``keep``, ``record`` is left as it
        was (a later output reads it): only the records the plan writes into are copied, the rest is
        shared. A partner's record is its projection, built anew (or ``projected``, made before an
        earlier output rewrote ``record``), so ``record`` is never rewritten.
        ``own``: the record's subject and its pseudonym, when the caller has it (see ``generate_apply``).
        ``tagged``, when given, gets the category of every tagged field and finding appended."""
        assert self._apply is not None
        if self.projection is not None:
            target = project(record, self.projection) if projected is None else projected
            return target, self._apply(target, subject_key, tagged, record, own)
        if keep:
            assert self.writes is not None
            record = _copy_for_writes(record, self.writes)
        return record, self._apply(record, subject_key, tagged, None, own)


def get_path(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for segment in path:
        if value is None:
            return None
        value = value.get(segment)
    return value


def _copy_for_writes(record: dict[str, Any], writes: Tree) -> dict[str, Any]:
    copied = dict(record)
    for name, sub in writes.items():
        value = copied.get(name)
        if sub is None:
            if value is not None:
                copied[name] = clone(value)
        elif type(value) is dict:
            copied[name] = _copy_for_writes(value, sub)
    return copied


def clone(value: Any) -> Any:
    """A deep copy of a decoded record: dicts and lists rebuilt, everything else (str, int, float,
    bool, bytes, None) is immutable and shared; about five times faster than ``copy.deepcopy``."""
    if type(value) is dict:
        return {key: clone(item) for key, item in value.items()}
    if type(value) is list:
        return [clone(item) for item in value]
    return value


def _written(ops: tuple[FieldOp, ...]) -> Tree:
    """The records ``ops`` write into: each op's parents, up to the first array or map (copied whole)."""
    tree: Tree = {}
    for op in ops:
        if op.strategy == "keep" and not op.found_inside:
            continue
        node: Tree | None = tree
        for n, segment in enumerate(op.parents):
            if node is None:
                break
            if n + 1 < len(op.parents) and op.parents[n + 1] in CONTAINERS:
                node[segment] = None
                break
            if segment not in node:
                node[segment] = {}
            node = node[segment]
    return tree


def personal_fields(schema: dict[str, Any]) -> Iterator[FieldInfo]:
    """Every field of the schema that carries a data category, depth first, at any depth: in nested
    records, in records inside arrays (``[]``) and maps (``{}``), in every record branch of a union.
    A path two union branches share is taken once, from the first branch."""
    seen: set[tuple[str, ...]] = set()
    for info in _walk(schema, (), _named(schema)):
        if info.path not in seen:
            seen.add(info.path)
            yield info


def _named(schema: Any, namespace: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Named types by short and full name, so that a reference to one is followed."""
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            _named(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        ns = schema.get("namespace", namespace)
        if kind in ("record", "enum", "fixed") and "name" in schema:
            out.setdefault(schema["name"], schema)
            out.setdefault(f"{ns}.{schema['name']}" if ns else schema["name"], schema)
        if kind == "record":
            for f in schema.get("fields", []):
                _named(f["type"], ns, out)
        elif kind == "array":
            _named(schema["items"], ns, out)
        elif kind == "map":
            _named(schema["values"], ns, out)
        elif isinstance(kind, (dict, list)):
            _named(kind, ns, out)
    return out


def _walk(schema: Any, prefix: tuple[str, ...], named: dict[str, Any], depth: int = 0) -> Iterator[FieldInfo]:
    if depth > 32:   # a recursive type: personal fields deeper than this are not followed
        return
    for f in schema.get("fields", []):
        path = (*prefix, f["name"])
        base = _non_null(f["type"])
        if isinstance(base, str) and base in named:
            base = named[base]
        if "category" in f:
            kind = base if isinstance(base, str) else str(base.get("type"))
            yield FieldInfo(path, kind, f["category"], f.get("format"), bool(f.get("scan")))
        yield from _inside(f["type"], path, named, depth)


def _inside(avro_type: Any, path: tuple[str, ...], named: dict[str, Any], depth: int) -> Iterator[FieldInfo]:
    """The personal fields inside a value of ``avro_type`` found at ``path``."""
    if isinstance(avro_type, str):
        avro_type = named.get(avro_type)
    if isinstance(avro_type, list):
        for branch in avro_type:
            yield from _inside(branch, path, named, depth)
    elif isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind == "record":
            yield from _walk(avro_type, path, named, depth + 1)
        elif kind == "array":
            yield from _inside(avro_type["items"], (*path, "[]"), named, depth + 1)
        elif kind == "map":
            yield from _inside(avro_type["values"], (*path, "{}"), named, depth + 1)
        elif isinstance(kind, (dict, list)):
            yield from _inside(kind, path, named, depth)


def _non_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return rest[0] if len(rest) == 1 else {"type": "union"}
    if isinstance(avro_type, dict) and avro_type.get("type") in ("string", "double", "float", "int", "long"):
        return avro_type["type"]
    return avro_type


def compile_plan(schema: dict[str, Any], output: OutputPolicy, policy: Policy) -> Plan:
    ops: list[FieldOp] = []
    subject_path = fallback = None
    known_paths = set()
    for info in personal_fields(schema):
        known_paths.add(info.dotted)
        try:
            name, entry = output.strategy_for(info.category, info.dotted, policy.categories)
        except PolicyError as exc:
            raise PolicyError(f"policy {policy.path}: {exc}") from None
        strategy = STRATEGIES[name]
        problem = strategy.unsupported(info)
        if problem:
            raise PolicyError(f"policy {policy.path}: {entry} = {name!r} cannot apply to field "
                              f"{info.dotted} of {output.source}: {problem}")
        flat = not any(segment in CONTAINERS for segment in info.path)
        if info.format == "subject" and flat:
            if info.avro_type != "string":
                raise PolicyError(f"schema of {output.source}: subject field {info.dotted} must be a string")
            subject_path = info.path
        elif info.category == "identifier.session" and flat and fallback is None:
            fallback = info.path
        ops.append(FieldOp(
            info=info,
            strategy=name,
            transform=strategy.compile(info, policy.options),
            tag=f"{info.category}:{name}",
            collects_context=name != "keep" and not strategy.scans_text and info.avro_type == "string",
            found_inside=strategy.scans_text,
            parents=info.path[:-1],
            name=info.path[-1],
            dotted=info.dotted,
            category=info.category,
            is_name=info.category == "identity.name",
        ))
    unknown = set(output.fields) - known_paths
    if unknown and output.projection is None:   # a partner may list fields without a category too
        raise PolicyError(f"policy {policy.path}: outputs.\"{output.topic}\".fields names "
                          f"{', '.join(sorted(unknown))}, not personal fields of {output.source}")
    # redaction runs last so that it sees every other personal value of the record
    ops.sort(key=lambda op: op.found_inside)
    ordered = tuple(ops)
    minimum = policy.options.context_min_length
    if output.projection is None:
        return Plan(output.topic, policy.version, ordered, subject_path, fallback, minimum,
                    generate_apply(ordered, minimum, _NAME_TOKEN, subject_path=subject_path), writes=_written(ordered))
    published = [declares(output.projection, op.dotted) for op in ordered]
    hidden = [op for op, public in zip(ordered, published, strict=True) if not public]
    reads_context = any(op.found_inside for op, public in zip(ordered, published, strict=True) if public)
    reads_source = bool(hidden) and (reads_context or any(in_container(op) for op in hidden))
    return Plan(output.topic, policy.version, ordered, subject_path, fallback, minimum,
                generate_apply(ordered, minimum, _NAME_TOKEN, published, subject_path),
                projection=projection_tree(output.projection), reads_source=reads_source)


# what a pseudonymize-only transfer does to a field the output would otherwise publish in some form
_PUBLISHING = ("keep", "generalize", "mask", "redact")


def compile_pseudonymized(schema: dict[str, Any], output: OutputPolicy, policy: Policy) -> Plan:
    """The plan of ``output`` for a transfer the policy allows pseudonymized only: every personal field
    the output would keep, generalize, mask or redact is pseudonymized (strings) or dropped (others);
    dropped, pseudonymized and derived fields stay as they are."""
    pseudonymize = STRATEGIES["pseudonym"]
    chosen: dict[str, str] = {}
    for info in personal_fields(schema):
        try:
            name, _entry = output.strategy_for(info.category, info.dotted, policy.categories)
        except PolicyError as exc:
            raise PolicyError(f"policy {policy.path}: {exc}") from None
        if name in _PUBLISHING:
            name = "pseudonym" if pseudonymize.unsupported(info) is None else "drop"
        chosen[info.dotted] = name
    return compile_plan(schema, replace(output, fields=chosen), policy)
