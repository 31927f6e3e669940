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

ApplyFn = Callable[..., dict[str, str]]


def generate_apply(ops: Sequence[FieldOp], context_min_length: int, name_token: Any,
                   published: Sequence[bool] | None = None, subject_path: tuple[str, ...] | None = None) -> ApplyFn:
    """``apply(record, subject_key, tagged, source, own)``: rewrite ``record`` in place, return its tags.

    ``tagged``, when given, is a list: the category of every tagged field and free-text finding is
    appended to it (one append per value; the caller counts them once per batch).

    ``own``, when given, is the record's subject id and its pseudonym (``subject_key``, domain
    ``subject``), which the caller has computed for the record's key: the pseudonymized subject
    field at ``subject_path`` takes it instead of computing the same hash again. A field that is
    dropped is set to None inline (the drop strategy's whole work), not through a call.

    ``published`` (a partner's projection) says per op whether the output publishes its field;
    ``record`` then holds only those fields (``processors.partners.project``), and the other ops
    just read ``source``, the whole record, left as it is: to count their categories in ``tagged``
    and, if the output publishes free text, to hand their values to the record context.
    """
    shown = [True] * len(ops) if published is None else list(published)
    reads_context = any(op.found_inside for op, public in zip(ops, shown, strict=True) if public)
    if not reads_context:   # no op of this output reads the record context: none is collected
        context_min_length = 0
    # a record context only for a plan whose transforms take one (keep and drop do not)
    needs_ctx = reads_context or any(in_container(op) or (public and op.strategy not in ("keep", "drop"))
                                     for op, public in zip(ops, shown, strict=True))
    parents: dict[tuple[str, ...], str] = {(): "record"}
    lines = ["def apply(record, subject_key, tagged, source=None, own=None):"]
    if needs_ctx:
        lines += ["    ctx = RecordContext(subject_key)", "    context = ctx.context", "    found = ctx.found"]
    lines.append("    tags = {}")
    for op, public in zip(ops, shown, strict=True):
        if in_container(op) or not public:
            continue
        for depth in range(1, len(op.parents) + 1):
            path = op.parents[:depth]
            if path not in parents:
                outer = parents[path[:-1]]
                var = parents[path] = f"p{len(parents)}"
                # a missing parent reads as an empty record, shared: its fields are None, so never written
                lines.append(f"    {var} = {outer}.get({path[-1]!r})")
                lines.append(f"    if type({var}) is not dict: {var} = EMPTY")
    namespace: dict[str, Any] = {"RecordContext": RecordContext, "NAME_TOKEN": name_token, "each": _each,
                                 "EMPTY": _EMPTY}
    for i, (op, public) in enumerate(zip(ops, shown, strict=True)):
        transform = f"T{i}"
        namespace[transform] = op.transform
        if not public:
            lines += _unpublished_op(op, context_min_length if reads_context else 0)
            continue
        if in_container(op):
            lines += _nested_op(op, transform, context_min_length)
            continue
        parent = parents[op.parents]
        cat, dotted, tag, field = repr(op.category), repr(op.dotted), repr(op.tag), repr(op.name)
        lines.append(f"    v = {parent}.get({field})")
        lines.append("    if v is not None:")
        lines.append(f"        if tagged is not None: tagged.append({cat})")
        if op.found_inside:
            lines += [
                "        before = len(found)",
                f"        {parent}[{field}] = {transform}(v, ctx)",
                "        if len(found) > before:",
                "            new = found[before:]",
                f"            tags[{dotted}] = {tag} + '[' + ','.join(sorted(set(new))) + ']'",
                "            if tagged is not None: tagged.extend(new)",
                "        else:",
                f"            tags[{dotted}] = {tag}",
            ]
            continue
        if op.info.path == subject_path and op.strategy == "pseudonym" and op.info.format == "subject":
            lines += _context(op, "        ", context_min_length)
            lines.append(f"        {parent}[{field}] = (own[1] if own is not None and v == own[0]"
                         f" else {transform}(v, ctx))")
        else:
            lines += _collect(op, parent, transform, "        ", context_min_length)
        lines.append(f"        tags[{dotted}] = {tag}")
    lines.append("    return tags")
    source = "\n".join(lines)
    exec(compile(source, f"<lethe plan {len(ops)} ops>", "exec"), namespace)
    apply: ApplyFn = namespace["apply"]
    apply.__doc__ = source   # what runs, for debugging
    return apply


_EMPTY: dict[str, Any] = {}


def in_container(op: FieldOp) -> bool:
    return any(segment in ("[]", "{}") for segment in op.parents)


def _each(value: Any, container: str) -> Any:
    """The records of an array (``[]``) or the values of a map (``{}``); nothing if it is not one."""
    if container == "[]":
        return value if type(value) is list else ()
    return value.values() if type(value) is dict else ()


def _collect(op: FieldOp, parent: str, transform: str, pad: str, context_min_length: int) -> list[str]:
    """Hand the original value to the record context, then transform it in place."""
    lines = _context(op, pad, context_min_length)
    if op.strategy == "drop":
        lines.append(f"{pad}{parent}[{op.name!r}] = None")
    elif op.strategy != "keep":
        lines.append(f"{pad}{parent}[{op.name!r}] = {transform}(v, ctx)")
    return lines


def _context(op: FieldOp, pad: str, context_min_length: int) -> list[str]:
    """Hand ``v``, the op's original value, to the record context (free text is searched for it)."""
    if not (op.collects_context and context_min_length):
        return []
    lines = [
        f"{pad}if type(v) is str and len(v) >= {context_min_length}:",
        f"{pad}    lowered = v.lower()",
        f"{pad}    context.append((lowered, {op.category!r}))",
    ]
    if op.is_name:
        lines.append(f"{pad}    context.extend((t, 'identity.name') for t in NAME_TOKEN.findall(lowered) "
                     "if t != lowered)")
    return lines


def _unpublished_op(op: FieldOp, context_min_length: int) -> list[str]:
    """An op whose field the output does not publish: its value, read from ``source``, is counted and
    handed to the record context (``context_min_length`` 0: not needed), never written or tagged."""
    assert not op.found_inside, "a partner publishes every free-text field it has a strategy for"
    if in_container(op):
        return _nested_op(op, None, context_min_length, root="source")
    context = _context(op, "        ", context_min_length)
    lines = ["    if True:" if context else "    if tagged is not None:", "        s = source"]
    for segment in op.parents:
        lines.append(f"        s = s.get({segment!r}) if type(s) is dict else None")
    lines += [
        f"        v = s.get({op.name!r}) if type(s) is dict else None",
        "        if v is not None:",
        f"            if tagged is not None: tagged.append({op.category!r})",
    ]
    return lines + _context(op, "            ", context_min_length)


def _nested_op(op: FieldOp, transform: str | None, context_min_length: int, root: str = "record") -> list[str]:
    """An op below an array or map: a loop per container on its path, the field of every record reached.

    Tagged once per path (``lines[].note``), counted once per value; a redacting op's tag lists
    what was found in any of its values. Without ``transform`` (a field the output does not
    publish) the values are only counted and handed to the record context."""
    cat, dotted, tag, field = repr(op.category), repr(op.dotted), repr(op.tag), repr(op.name)
    lines = ["    seen = False", "    before = len(found)", f"    c0 = {root}"]
    pad, var = "    ", "c0"
    for n, segment in enumerate(op.parents, start=1):
        if segment in ("[]", "{}"):
            lines.append(f"{pad}for c{n} in each({var}, {segment!r}):")
            pad += "    "
        else:
            lines.append(f"{pad}c{n} = {var}.get({segment!r}) if type({var}) is dict else None")
        var = f"c{n}"
    lines.append(f"{pad}v = {var}.get({field}) if type({var}) is dict else None")
    lines.append(f"{pad}if v is not None:")
    inner = pad + "    "
    lines.append(f"{inner}seen = True")
    lines.append(f"{inner}if tagged is not None: tagged.append({cat})")
    if transform is None:
        return lines + _context(op, inner, context_min_length)
    if op.found_inside:
        lines.append(f"{inner}{var}[{field}] = {transform}(v, ctx)")
    else:
        lines += _collect(op, var, transform, inner, context_min_length)
    lines.append("    if seen:")
    if op.found_inside:
        lines += [
            "        if len(found) > before:",
            "            new = found[before:]",
            f"            tags[{dotted}] = {tag} + '[' + ','.join(sorted(set(new))) + ']'",
            "            if tagged is not None: tagged.extend(new)",
            "        else:",
            f"            tags[{dotted}] = {tag}",
        ]
    else:
        lines.append(f"        tags[{dotted}] = {tag}")
    return lines
