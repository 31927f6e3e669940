"""Validators compiled once per Avro schema.

``compile_validator(schema)`` turns a parsed-JSON Avro schema into a function that takes a
decoded JSON value and returns a clean copy: only the schema's fields (unknown fields are
dropped so that nothing untagged can reach an output), defaults filled in, numbers normalized.
It raises :class:`InvalidRecord` with the field path and the rule; never with the value.

Given a list as ``unknown``, each validation appends ``(path, name, value)`` for every field of
an object that its record type does not declare (``path`` names the record, e.g. ``customer`` or
``items[]``; empty at the top): the caller clears the list before a record and reads it after
(processors/unknown.py counts and scans them). A record type used at several paths is compiled
once per path, so that the path is where the field was found.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from processors import validate_codegen as codegen
from processors.errors import InvalidRecord, SchemaError
from processors.validate_codegen import Fast, Unknown, Validator

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
DEFAULT_MAX_STRING = 65_536


def compile_validator(schema: Any, max_string: int = DEFAULT_MAX_STRING, unknown: Unknown | None = None) -> Validator:
    return _Compiler(max_string, unknown).build(schema, namespace="")


class _Compiler:
    def __init__(self, max_string: int, unknown: Unknown | None = None) -> None:
        self.max_string = max_string
        self.unknown = unknown
        self.named: dict[str, Validator] = {}
        self.records: dict[str, tuple[dict[str, Any], str]] = {}   # record type name -> (schema, namespace)
        self.at: dict[tuple[str, str], Validator] = {}   # (record type, path) -> its validator there
        self.building: set[str] = set()   # record types whose fields are being compiled
        self.fast: dict[Validator, Fast] = {}   # a validator -> when it would return its value as it is
        self.names = itertools.count()   # of the constants fast paths read

    def build(self, schema: Any, namespace: str, fmt: str | None = None, path: str = "") -> Validator:
        if isinstance(schema, str):
            record = self.records.get(schema) or self.records.get(f"{namespace}.{schema}")
            if record is not None and self.unknown is not None:   # the same record type at another path
                full = _full_name(record[0], record[1])
                found = self.at.get((full, path))
                if found is not None:
                    return found
                if full in self.building:   # within itself (recursive): compiled when data goes that deep
                    return self._lazy(record, full, path)
                return self._record(record[0], record[1], path)
            return self._primitive(schema, namespace, fmt)
        if isinstance(schema, list):
            return self._union([self.build(branch, namespace, fmt, path) for branch in schema], schema)
        if isinstance(schema, dict):
            kind = schema.get("type")
            if kind == "record" or kind == "error":
                return self._record(schema, namespace, path)
            if kind == "enum":
                return self._register(schema, namespace, self._enum(schema))
            if kind == "array":
                return self._array(self.build(schema["items"], namespace, path=f"{path}[]"))
            if kind == "map":
                return self._map(self.build(schema["values"], namespace, path=f"{path}{{}}"))
            if kind == "fixed":
                return self._register(schema, namespace, self._fixed(int(schema["size"])))
            return self.build(kind, namespace, fmt or schema.get("format"), path)
        raise SchemaError(f"unsupported schema node {schema!r}")

    def _lazy(self, record: tuple[dict[str, Any], str], full: str, path: str) -> Validator:
        compiled: list[Validator] = []

        def check_lazily(v: Any) -> Any:
            if not compiled:
                compiled.append(self.at.get((full, path)) or self._record(record[0], record[1], path))
            return compiled[0](v)
        return check_lazily

    def _register(self, schema: dict[str, Any], namespace: str, validator: Validator) -> Validator:
        self.named[_full_name(schema, namespace)] = validator
        self.named[schema["name"]] = validator
        return validator

    def _primitive(self, kind: str, namespace: str, fmt: str | None) -> Validator:
        max_string = self.max_string
        if kind == "null":
            def check_null(v: Any) -> Any:
                if v is not None:
                    raise InvalidRecord("type", "expected null")
                return None
            return self._fast(check_null, "x is None")
        if kind == "boolean":
            def check_bool(v: Any) -> Any:
                if v is not True and v is not False:
                    raise InvalidRecord("type", "expected a boolean")
                return v
            return self._fast(check_bool, "(x is True or x is False)")
        if kind in ("int", "long"):
            lo, hi = (INT_MIN, INT_MAX) if kind == "int" else (LONG_MIN, LONG_MAX)
            def check_int(v: Any) -> Any:
                if type(v) is not int:
                    raise InvalidRecord("type", f"expected an integer ({kind})")
                if not lo <= v <= hi:
                    raise InvalidRecord("range", f"integer out of {kind} range")
                return v
            return self._fast(check_int, f"(type(x) is int and {lo} <= x <= {hi})")
        if kind in ("float", "double"):
            def check_float(v: Any) -> Any:
                t = type(v)
                if t is float:
                    if v != v or v in (float("inf"), float("-inf")):
                        raise InvalidRecord("range", "number must be finite")
                    return v
                if t is int:
                    return float(v)
                raise InvalidRecord("type", f"expected a number ({kind})")
            return self._fast(check_float, "(type(x) is float and x == x and x not in {k})",
                              (float("inf"), float("-inf")))
        if kind == "string":
            if fmt == "timestamp":
                def check_timestamp(v: Any) -> Any:
                    if type(v) is not str:
                        raise InvalidRecord("type", "expected a string")
                    if len(v) > 64:
                        raise InvalidRecord("format.timestamp", "timestamp too long")
                    try:   # RFC 3339 allows a lower-case z; datetime does not
                        parsed = datetime.fromisoformat(v[:-1] + "Z" if v[-1:] == "z" else v)
                    except ValueError:
                        raise InvalidRecord("format.timestamp", "not an RFC 3339 timestamp") from None
                    if parsed.tzinfo is None:
                        raise InvalidRecord("format.timestamp", "timestamp has no UTC offset")
                    return v
                return check_timestamp
            def check_string(v: Any) -> Any:
                if type(v) is not str:
                    raise InvalidRecord("type", "expected a string")
                if len(v) > max_string:
                    raise InvalidRecord("max_length", f"string longer than {max_string} characters")
                return v
            return self._fast(check_string, f"(type(x) is str and len(x) <= {max_string})")
        if kind == "bytes":
            def check_bytes(v: Any) -> Any:
                if type(v) is bytes:
                    return v
                if type(v) is str:
                    try:
                        return v.encode("latin-1")   # Avro's JSON encoding of bytes
                    except UnicodeEncodeError:
                        raise InvalidRecord("type", "bytes given as a string with characters above U+00FF") from None
                raise InvalidRecord("type", "expected bytes")
            return check_bytes
        named = self.named.get(kind) or self.named.get(f"{namespace}.{kind}")
        if named is None:
            raise SchemaError(f"unknown type name {kind!r}")
        return named

    def _union(self, branches: list[Validator], schema: list[Any]) -> Validator:
        if len(branches) == 2 and schema[0] == "null":
            inner = branches[1]
            def check_optional(v: Any) -> Any:
                return None if v is None else inner(v)
            fast = self.fast.get(inner)
            self.fast[check_optional] = (Fast(f"(x is None or {fast.condition})", fast.constants) if fast is not None
                                         else Fast("x is None", otherwise=inner))
            return check_optional
        def check_union(v: Any) -> Any:
            for branch in branches:
                try:
                    return branch(v)
                except InvalidRecord:
                    continue
            raise InvalidRecord("type", "matches no branch of the union")
        return check_union

    def _enum(self, schema: dict[str, Any]) -> Validator:
        symbols = frozenset(schema["symbols"])
        name = schema["name"]
        def check_enum(v: Any) -> Any:
            if type(v) is not str:
                raise InvalidRecord("type", f"expected a {name} symbol")
            if v not in symbols:
                raise InvalidRecord("enum", f"not a {name} symbol")
            return v
        return self._fast(check_enum, "(type(x) is str and x in {k})", symbols)

    def _fixed(self, size: int) -> Validator:
        def check_fixed(v: Any) -> Any:
            if type(v) is not bytes or len(v) != size:
                raise InvalidRecord("type", f"expected {size} fixed bytes")
            return v
        return check_fixed

    def _array(self, item: Validator) -> Validator:
        def check_array(v: Any) -> Any:
            if type(v) is not list:
                raise InvalidRecord("type", "expected an array")
            out = []
            for i, element in enumerate(v):
                try:
                    out.append(item(element))
                except InvalidRecord as exc:
                    raise exc.at(f"[{i}]") from None
            return out
        return check_array

    def _map(self, value: Validator) -> Validator:
        def check_map(v: Any) -> Any:
            if type(v) is not dict:
                raise InvalidRecord("type", "expected an object")
            out = {}
            for k, element in v.items():
                if type(k) is not str:
                    raise InvalidRecord("type", "map keys must be strings")
                try:
                    out[k] = value(element)
                except InvalidRecord as exc:
                    # map keys can be personal (free text); name the map, not the key
                    raise exc.at("[*]") from None
            return out
        return check_map

    def _record(self, schema: dict[str, Any], namespace: str, path: str = "") -> Validator:
        full = _full_name(schema, namespace)
        inner_ns = full.rpartition(".")[0]
        made: list[Validator] = []

        def forward(v: Any) -> Any:   # what a recursive type calls within itself
            return made[0](v)

        # registered before its fields are built so that recursive types resolve
        self.named[full] = self.named[schema["name"]] = self.at[(full, path)] = forward
        self.records[full] = self.records[schema["name"]] = (schema, namespace)
        self.building.add(full)
        fields = []
        for f in schema["fields"]:
            name = f["name"]
            check = self.build(f["type"], inner_ns, f.get("format"), f"{path}.{name}" if path else name)
            fields.append(codegen.Field(name, check, self.fast.get(check), "default" in f, f.get("default")))
        self.building.discard(full)
        made.append(codegen.record(fields, path, self.unknown))
        self.named[full] = self.named[schema["name"]] = self.at[(full, path)] = made[0]
        return made[0]

    def _fast(self, validator: Validator, condition: str, constant: Any = None) -> Validator:
        """Note when ``validator`` returns its value as it is: ``condition`` on ``x``, ``{k}`` naming ``constant``."""
        constants = {}
        if constant is not None:
            k = f"K{next(self.names)}"
            condition, constants = condition.replace("{k}", k), {k: constant}
        self.fast[validator] = Fast(condition, constants)
        return validator


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    ns = schema.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name
