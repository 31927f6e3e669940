"""A tagging and anonymization plan, compiled once per (input schema, output policy).

The plan lists every personal field of the schema (from its ``category`` attribute) with the
transform the policy chose for it. Applying it to a record tags each present personal field
(path -> "category:strategy") and rewrites it in place; free-text fields also report which
categories were found and redacted inside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.errors import PolicyError
from processors.plan_codegen import ApplyFn, generate_apply
from processors.policy import OutputPolicy, Policy
from processors.strategies import STRATEGIES, FieldInfo, Transform

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

    def apply(self, record: dict[str, Any], subject_key: bytes, tagged: dict[str, int] | None = None) -> dict[str, str]:
        """Anonymize ``record`` in place; return its tags (field path -> category:strategy).

        ``tagged``, when given, counts tagged fields and free-text findings per category.
        Redacting ops come last; the ops before them hand their original values to the record
        context on the way, so free text is searched for every other personal value.
        """
        assert self._apply is not None
        return self._apply(record, subject_key, tagged)


def get_path(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for segment in path:
        if value is None:
            return None
        value = value.get(segment)
    return value


def personal_fields(schema: dict[str, Any]) -> Iterator[FieldInfo]:
    """Every field of the schema that carries a data category, depth first."""
    yield from _walk(schema, ())


def _walk(schema: Any, prefix: tuple[str, ...]) -> Iterator[FieldInfo]:
    for f in schema.get("fields", []):
        path = (*prefix, f["name"])
        base = _non_null(f["type"])
        if "category" in f:
            kind = base if isinstance(base, str) else str(base.get("type"))
            yield FieldInfo(path, kind, f["category"], f.get("format"), bool(f.get("scan")))
        if isinstance(base, dict) and base.get("type") == "record":
            yield from _walk(base, path)


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
        name, entry = output.strategy_for(info.category, info.dotted, policy.categories)
        strategy = STRATEGIES[name]
        problem = strategy.unsupported(info)
        if problem:
            raise PolicyError(f"policy {policy.path}: {entry} = {name!r} cannot apply to field "
                              f"{info.dotted} of {output.source}: {problem}")
        if info.format == "subject":
            if info.avro_type != "string":
                raise PolicyError(f"schema of {output.source}: subject field {info.dotted} must be a string")
            subject_path = info.path
        elif info.category == "identifier.session":
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
    if unknown:
        raise PolicyError(f"policy {policy.path}: outputs.\"{output.topic}\".fields names "
                          f"{', '.join(sorted(unknown))}, not personal fields of {output.source}")
    # redaction runs last so that it sees every other personal value of the record
    ops.sort(key=lambda op: op.found_inside)
    ordered = tuple(ops)
    minimum = policy.options.context_min_length
    return Plan(output.topic, policy.version, ordered, subject_path, fallback, minimum,
                generate_apply(ordered, minimum, _NAME_TOKEN))
