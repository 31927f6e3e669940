"""Record validators generated as straight-line Python, once per record type and path.

A record validator that calls one closure per field costs a Python call per field; the generated
function tests each field's common case inline (``Fast``: a condition on ``x``, e.g. ``type(x) is
str and len(x) <= 65536``) and calls the field's validator only when that test fails, to raise its
error or to normalize the value (an integer given for a double). Nested records, arrays, maps,
unions, bytes and timestamps are always called. An error raised in a field gets the field's name
as its path (``InvalidRecord.at``), as processors/validate.py's closures did.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.errors import InvalidRecord

Validator = Callable[[Any], Any]
Unknown = list[tuple[str, str, Any]]


@dataclass(frozen=True)
class Fast:
    """A condition on ``x`` under which the field's validator would return ``x`` as it is."""

    condition: str
    constants: dict[str, Any] = field(default_factory=dict)   # names the condition reads
    otherwise: Validator | None = None   # what to call when it fails (None: the field's validator)


@dataclass(frozen=True)
class Field:
    name: str
    check: Validator
    fast: Fast | None
    has_default: bool
    default: Any


_IMMUTABLE = (bool, int, float, str, bytes)


def record(fields: Sequence[Field], path: str, unknown: Unknown | None) -> Validator:
    """The validator of one record type at ``path``: a clean copy with only ``fields``, in order.

    Given ``unknown``, every field the object holds beyond ``fields`` is appended to it as
    ``(path, name, value)``."""
    namespace: dict[str, Any] = {"InvalidRecord": InvalidRecord, "copy": copy.copy, "unknown": unknown,
                                 "DECLARED": frozenset(f.name for f in fields), "PATH": path}
    body = []
    for i, f in enumerate(fields):
        namespace[f"C{i}"] = f.check
        check = f"f{i} = C{i}(x)"
        if f.fast is not None:
            namespace.update(f.fast.constants)
            if f.fast.otherwise is not None:
                namespace[f"C{i}"] = f.fast.otherwise
            check = f"f{i} = x if {f.fast.condition} else C{i}(x)"
        if not f.has_default:   # a missing one raises KeyError
            body += [f"name = {f.name!r}", "x = v[name]", check]
            continue
        body += [f"name = {f.name!r}", "if name in v:", "    x = v[name]", "    " + check, "else:"]
        if unknown is not None:
            body.append("    missing += 1")
        if f.default is None:
            body.append(f"    f{i} = None")
        else:   # copied as a list or an object default must be: records do not share it
            namespace[f"D{i}"] = f.default
            body.append(f"    f{i} = D{i}" if type(f.default) in _IMMUTABLE else f"    f{i} = copy(D{i})")
    if not body:
        body = ["pass"]
    lines = ["def check_record(v):", "    if type(v) is not dict:",
             "        raise InvalidRecord('type', 'expected an object')"]
    if unknown is not None:
        lines.append("    missing = 0")
    lines += ["    try:", *("        " + line for line in body), "    except KeyError:",
              "        raise InvalidRecord('required', 'required field is missing', name) from None",
              "    except InvalidRecord as exc:", "        raise exc.at(name) from None"]
    if unknown is not None:   # the declared fields it holds are all but the missing ones
        lines += [f"    if len(v) != {len(fields)} - missing:",
                  "        unknown.extend((PATH, n, x) for n, x in v.items() if n not in DECLARED)"]
    lines.append("    return {" + ", ".join(f"{f.name!r}: f{i}" for i, f in enumerate(fields)) + "}")
    source = "\n".join(lines)
    exec(compile(source, "<lethe record validator>", "exec"), namespace)
    check_record: Validator = namespace["check_record"]
    check_record.__doc__ = source   # what runs, for debugging
    return check_record
