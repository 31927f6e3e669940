"""Generate a plan's apply function as straight-line Python, once per plan.

The generic loop over field ops costs more than the transforms themselves at tens of thousands
of events per second; the generated function does the same work with the field names, tags and
categories as constants and each parent record looked up once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from processors.strategies import RecordContext

if TYPE_CHECKING:
    from processors.plan import FieldOp

ApplyFn = Callable[[dict[str, Any], bytes, "dict[str, int] | None"], dict[str, str]]


def generate_apply(ops: Sequence[FieldOp], context_min_length: int, name_token: Any) -> ApplyFn:
    parents: dict[tuple[str, ...], str] = {(): "record"}
    lines = [
        "def apply(record, subject_key, tagged):",
        "    ctx = RecordContext(subject_key)",
        "    context = ctx.context",
        "    found = ctx.found",
        "    tags = {}",
    ]
    for op in ops:
        for depth in range(1, len(op.parents) + 1):
            path = op.parents[:depth]
            if path not in parents:
                outer = parents[path[:-1]]
                var = parents[path] = f"p{len(parents)}"
                lines.append(f"    {var} = {outer}.get({path[-1]!r}) if {outer} is not None else None")
    namespace: dict[str, Any] = {"RecordContext": RecordContext, "NAME_TOKEN": name_token}
    for i, op in enumerate(ops):
        parent = parents[op.parents]
        transform = f"T{i}"
        namespace[transform] = op.transform
        cat, dotted, tag, field = repr(op.category), repr(op.dotted), repr(op.tag), repr(op.name)
        guard = f"{parent} is not None and " if op.parents else ""
        lines.append(f"    v = {parent}.get({field}) if {guard}True else None" if op.parents
                     else f"    v = record.get({field})")
        lines.append("    if v is not None:")
        lines.append(f"        if tagged is not None: tagged[{cat}] = tagged.get({cat}, 0) + 1")
        if op.found_inside:
            lines += [
                "        before = len(found)",
                f"        {parent}[{field}] = {transform}(v, ctx)",
                "        if len(found) > before:",
                "            new = found[before:]",
                f"            tags[{dotted}] = {tag} + '[' + ','.join(sorted(set(new))) + ']'",
                "            if tagged is not None:",
                "                for c in new: tagged[c] = tagged.get(c, 0) + 1",
                "        else:",
                f"            tags[{dotted}] = {tag}",
            ]
            continue
        if op.collects_context and context_min_length:
            lines.append(f"        if type(v) is str and len(v) >= {context_min_length}:")
            lines.append("            lowered = v.lower()")
            lines.append(f"            context.append((lowered, {cat}))")
            if op.is_name:
                lines.append("            context.extend((t, 'identity.name') for t in NAME_TOKEN.findall(lowered) "
                             "if t != lowered)")
        if op.strategy != "keep":
            lines.append(f"        {parent}[{field}] = {transform}(v, ctx)")
        lines.append(f"        tags[{dotted}] = {tag}")
    lines.append("    return tags")
    source = "\n".join(lines)
    exec(compile(source, f"<lethe plan {len(ops)} ops>", "exec"), namespace)
    apply: ApplyFn = namespace["apply"]
    apply.__doc__ = source   # what runs, for debugging
    return apply
