"""Apply one lifecycle command to a SQL database: one transaction, idempotent, acked.

A command (schemas/lifecycle.commands.v1.avsc) names a subject and, optionally, one record of a
family; an empty subject selects one record without a subject (an anonymous log event) by its
key. ``delete`` removes the matching rows of every mapped table of that family; ``anonymize``
sets the columns of the named categories to NULL; ``update`` writes ``updates`` (column -> value)
to the matching rows. The command id is recorded in ``lethe_applied_commands`` in the same
transaction, so a replayed command changes nothing and is acked again with its first result.
Errors are reported by type only: a database message can quote the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, column, delete, select, table, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from processors.records import lifecycle_ack
from streams.store.mapping import StoreMapping

metadata = MetaData()
applied_commands = Table(
    "lethe_applied_commands", metadata,
    Column("command_id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("rows_affected", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def prepare(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def apply_command(engine: Engine, mapping: StoreMapping, command: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``command``; return its ack (schemas/lifecycle.acks.v1.avsc)."""
    command_id = command["command_id"]
    try:
        with engine.begin() as conn:
            done = conn.execute(select(applied_commands.c.status, applied_commands.c.rows_affected)
                                .where(applied_commands.c.command_id == command_id)).first()
            if done is not None:
                return _ack(mapping, command_id, done.status, done.rows_affected)
            rows = _execute(conn, mapping, command)
            status = "applied" if rows else "not_found"
            conn.execute(applied_commands.insert().values(
                command_id=command_id, status=status, rows_affected=rows, applied_at=datetime.now(UTC)))
        return _ack(mapping, command_id, status, rows)
    except SQLAlchemyError as exc:
        return _ack(mapping, command_id, "failed", 0, f"database error ({type(exc).__name__})")


def _execute(conn: Connection, mapping: StoreMapping, command: Mapping[str, Any]) -> int:
    selector = command["selector"]
    action = command["action"]
    rows = 0
    for target in mapping.for_family(selector["family"]):
        schema, _, name = target.table.rpartition(".")
        tbl = table(name, column(target.subject_column), schema=schema or None)
        if command["subject"]:
            condition = tbl.c[target.subject_column] == command["subject"]
        elif selector.get("record_key") is None:
            continue   # no subject and no record: nothing is selected (never "every row")
        else:
            condition = tbl.c[target.subject_column].is_(None)   # an anonymous record (e.g. a log event)
        if selector.get("record_key") is not None:
            if target.key_column is None:
                continue
            tbl.append_column(column(target.key_column))
            condition = condition & (tbl.c[target.key_column] == selector["record_key"])
        if action == "delete":
            rows += conn.execute(delete(tbl).where(condition)).rowcount
            continue
        if action == "anonymize":
            values: dict[str, Any] = {c: None for c in target.columns_for(set(command.get("categories", [])))}
        else:   # update: a mapped column by name, or a category held by exactly one column of the table
            values = {}
            for name_or_category, value in command.get("updates", {}).items():
                if name_or_category in target.columns:
                    values[name_or_category] = value
                    continue
                columns = target.columns_for({name_or_category})
                if len(columns) == 1:
                    values[columns[0]] = value
        if not values:
            continue
        for name_ in values:
            if name_ not in tbl.c:
                tbl.append_column(column(name_))
        rows += conn.execute(update(tbl).where(condition).values(values)).rowcount
    return rows


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
