"""Apply lifecycle commands to a SQL database: one transaction per batch, idempotent, acked.

A command (schemas/lifecycle.commands.v1.avsc) names a subject and, optionally, one record of a
family; an empty subject selects one record without a subject (an anonymous log event) by its
key. ``delete`` removes the matching rows of every mapped table of that family; ``anonymize``
sets the columns of the named categories to NULL; ``update`` writes ``updates`` (column -> value)
to the matching rows. Every command id is recorded in ``lethe_applied_commands`` in the
transaction that applies it, so a replayed command changes nothing and is acked again with its
first result.
Errors are reported by type only: a database message can quote the row.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import bindparam, column, table
from sqlalchemy.sql.dml import Delete, Update

from processors.records import lifecycle_ack
from streams.store.mapping import StoreMapping, TableMapping

metadata = MetaData()
applied_commands = Table(
    "lethe_applied_commands", metadata,
    Column("command_id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("rows_affected", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


_LOOKUP_CHUNK = 500   # command ids per IN (...) lookup: under every database's limit on bound parameters


def prepare(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def apply_command(engine: Engine, mapping: StoreMapping, command: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``command`` in its own transaction; return its ack (schemas/lifecycle.acks.v1.avsc)."""
    try:
        return apply_commands(engine, mapping, [command])[0]
    except SQLAlchemyError as exc:
        return _ack(mapping, command["command_id"], "failed", 0, f"database error ({type(exc).__name__})")


def apply_commands(engine: Engine, mapping: StoreMapping,
                   commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``commands`` in order in one transaction (one commit, one fsync); return their acks.

    Each command id is looked up and recorded in ``lethe_applied_commands`` as in
    :func:`apply_command`; a command repeated within ``commands`` is applied once and acked with its
    first result each time. Raises :class:`SQLAlchemyError` (nothing applied) when any of them fails.
    """
    ids = list(dict.fromkeys(c["command_id"] for c in commands))
    done: dict[str, tuple[str, int]] = {}
    with engine.begin() as conn:
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            for row in conn.execute(select(applied_commands.c.command_id, applied_commands.c.status,
                                           applied_commands.c.rows_affected)
                                    .where(applied_commands.c.command_id.in_(ids[start:start + _LOOKUP_CHUNK]))):
                done[row.command_id] = (row.status, row.rows_affected)
        new: list[dict[str, Any]] = []
        for command in commands:
            if command["command_id"] in done:
                continue
            rows = _execute(conn, mapping, command)
            done[command["command_id"]] = ("applied" if rows else "not_found", rows)
            new.append({"command_id": command["command_id"], "status": done[command["command_id"]][0],
                        "rows_affected": rows, "applied_at": datetime.now(UTC)})
        if new:
            conn.execute(applied_commands.insert(), new)
    return [_ack(mapping, c["command_id"], *done[c["command_id"]]) for c in commands]


def _execute(conn: Connection, mapping: StoreMapping, command: Mapping[str, Any]) -> int:
    selector, action = command["selector"], command["action"]
    subject, key = command["subject"], selector.get("record_key")
    rows = 0
    for target in mapping.for_family(selector["family"]):
        if not subject and key is None:
            continue   # no subject and no record: nothing is selected (never "every row")
        if key is not None and target.key_column is None:
            continue
        values = {} if action == "delete" else _values(target, command)
        if action != "delete" and not values:
            continue
        statement = _statement(target.table, target.subject_column, target.key_column if key is not None else None,
                               bool(subject), action, tuple(values))
        params = {"subject": subject, "record_key": key, **{f"v_{c}": v for c, v in values.items()}}
        rows += conn.execute(statement, params).rowcount
    return rows


def _values(target: TableMapping, command: Mapping[str, Any]) -> dict[str, Any]:
    """The columns an anonymize (NULL) or update command sets in ``target``, with their values."""
    if command["action"] == "anonymize":
        return {c: None for c in target.columns_for(set(command.get("categories", [])))}
    values = {}   # update: a mapped column by name, or a category held by exactly one column of the table
    for name_or_category, value in command.get("updates", {}).items():
        if name_or_category in target.columns:
            values[name_or_category] = value
            continue
        columns = target.columns_for({name_or_category})
        if len(columns) == 1:
            values[columns[0]] = value
    return values


@functools.lru_cache(maxsize=1024)
def _statement(table_name: str, subject_column: str, key_column: str | None, by_subject: bool, action: str,
               columns: tuple[str, ...]) -> Delete | Update:
    """The statement of one shape of command, built once, so that SQLAlchemy reuses its compiled form:
    applying a command then costs a parameter binding, not a compilation (issue 14)."""
    schema, _, name = table_name.rpartition(".")
    names = [n for n in dict.fromkeys([subject_column, key_column, *columns]) if n is not None]
    tbl = table(name, *(column(n) for n in names), schema=schema or None)
    subject = tbl.c[subject_column]
    # an empty subject selects an anonymous record (e.g. a log event) by its key
    condition = subject == bindparam("subject") if by_subject else subject.is_(None)
    if key_column is not None:
        condition = condition & (tbl.c[key_column] == bindparam("record_key"))
    if action == "delete":
        return delete(tbl).where(condition)
    return update(tbl).where(condition).values({c: bindparam(f"v_{c}") for c in columns})


def export_rows(engine: Engine, mapping: StoreMapping, command: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The subject's rows of the command's family as JSON-ready dicts (for an export): every column,
    or with the command's ``categories`` (portability) the key column and the columns mapped to them."""
    selector = command["selector"]
    if not command["subject"]:
        return []
    found: list[dict[str, Any]] = []
    metadata = MetaData()
    with engine.connect() as conn:
        for target in mapping.for_family(selector["family"]):
            schema, _, name = target.table.rpartition(".")
            tbl = Table(name, metadata, schema=schema or None, autoload_with=conn)
            wanted = target.export_columns(command.get("categories", []))
            columns = list(tbl.c) if wanted is None else [tbl.c[c] for c in wanted if c in tbl.c]
            if not columns:
                continue
            condition = tbl.c[target.subject_column] == command["subject"]
            if selector.get("record_key") is not None and target.key_column is not None:
                condition = condition & (tbl.c[target.key_column] == selector["record_key"])
            for row in conn.execute(select(*columns).where(condition)):
                found.append({"table": target.table, **{k: _plain(v) for k, v in row._mapping.items()}})
    return found


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _ack(mapping: StoreMapping, command_id: str, status: str, rows: int, error: str | None = None) -> dict[str, Any]:
    return lifecycle_ack(command_id, mapping.store, status, rows, datetime.now(UTC), error)
