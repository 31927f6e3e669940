"""Commands applied to real SQLite and PostgreSQL: one transaction per batch, idempotent, acked by status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, select, text
from sqlalchemy.engine import Engine

from processors.errors import ConfigError
from streams.store.apply import applied_commands, apply_command, apply_commands, export_rows, prepare
from streams.store.mapping import StoreMapping, TableMapping, parse_mapping
from streams.store.sql import SqlAlchemyStore

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A fresh database each (not the shared `test` one): its lethe_applied_commands is this test's alone."""
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def orders(engine: Engine) -> Iterator[tuple[StoreMapping, Table]]:
    name = f"orders_{uuid.uuid4().hex[:8]}"
    metadata = MetaData()
    tbl = Table(name, metadata, Column("order_id", String(32), primary_key=True),
                Column("customer_id", String(32)), Column("customer_email", String(64)),
                Column("customer_name", String(64)), Column("carrier", String(16)))
    metadata.create_all(engine)
    prepare(engine)
    with engine.begin() as conn:
        conn.execute(tbl.insert(), [
            {"order_id": "o1", "customer_id": "c1", "customer_email": "a@x.example", "customer_name": "Ann A",
             "carrier": "DHL"},
            {"order_id": "o2", "customer_id": "c1", "customer_email": "a@x.example", "customer_name": "Ann A",
             "carrier": "UPS"},
            {"order_id": "o3", "customer_id": "c2", "customer_email": "b@x.example", "customer_name": "Bo B",
             "carrier": "DHL"},
        ])
    mapping = parse_mapping({"store": "shop-db", "tables": {name: {
        "family": "orders", "subject_column": "customer_id", "key_column": "order_id",
        "columns": {"customer_email": "contact.email", "customer_name": "identity.name"}}}}, "test")
    yield mapping, tbl
    metadata.drop_all(engine)


def command(action: str, subject: str, record_key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"command_id": uuid.uuid4().hex, "action": action, "subject": subject,
            "selector": {"family": "orders", "record_key": record_key}, "categories": [], "fields": [],
            "updates": {}, "rule": "test", "cause": "retention", "due_at": "2026-11-24T00:00:00+00:00", **extra}


def rows(engine: Engine, tbl: Table) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r.order_id: dict(r._mapping) for r in conn.execute(select(tbl))}


def test_anonymize_one_record_nulls_only_its_categories(engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    ack = apply_command(engine, mapping, command("anonymize", "c1", "o1", categories=["contact.email"]))
    assert (ack["status"], ack["rows_affected"], ack["store"]) == ("applied", 1, "shop-db")
    data = rows(engine, tbl)
    assert data["o1"]["customer_email"] is None and data["o1"]["customer_name"] == "Ann A"
    assert data["o2"]["customer_email"] == "a@x.example"


def test_delete_a_subject_removes_all_its_rows_and_a_replay_changes_nothing(
        engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    cmd = command("delete", "c1")
    assert apply_command(engine, mapping, cmd)["rows_affected"] == 2
    assert set(rows(engine, tbl)) == {"o3"}
    with engine.begin() as conn:   # a new row for c1 arrives; the replayed command must not touch it
        conn.execute(tbl.insert().values(order_id="o4", customer_id="c1", carrier="DHL"))
    replay = apply_command(engine, mapping, cmd)
    assert (replay["status"], replay["rows_affected"]) == ("applied", 2)
    assert set(rows(engine, tbl)) == {"o3", "o4"}


def test_unknown_subject_is_not_found(engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    ack = apply_command(engine, mapping, command("delete", "nobody"))
    assert (ack["status"], ack["rows_affected"]) == ("not_found", 0)
    assert len(rows(engine, tbl)) == 3


def test_an_empty_subject_selects_only_the_anonymous_record_by_key(
        engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    with engine.begin() as conn:
        conn.execute(tbl.insert().values(order_id="o9", customer_id=None, carrier="DHL"))
    assert apply_command(engine, mapping, command("delete", "", "o1"))["status"] == "not_found"   # o1 has a subject
    assert apply_command(engine, mapping, command("delete", ""))["status"] == "not_found"   # never "all rows"
    assert apply_command(engine, mapping, command("delete", "", "o9"))["rows_affected"] == 1
    assert set(rows(engine, tbl)) == {"o1", "o2", "o3"}


def test_update_writes_only_mapped_columns(engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    ack = apply_command(engine, mapping, command("update", "c2", updates={"customer_email": "new@x.example",
                                                                          "carrier": "FedEx"}))
    assert ack["rows_affected"] == 1
    assert rows(engine, tbl)["o3"]["customer_email"] == "new@x.example"
    assert rows(engine, tbl)["o3"]["carrier"] == "DHL"   # not a personal column of the mapping


def test_a_failing_database_is_reported_without_values(engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {tbl.name}"))
    ack = apply_command(engine, mapping, command("delete", "c1"))
    assert ack["status"] == "failed" and ack["rows_affected"] == 0
    assert "c1" not in (ack["error"] or "") and "DROP" not in (ack["error"] or "")
    tbl.metadata.create_all(engine)   # for the fixture's teardown


@pytest.mark.parametrize(("change", "message"), [
    ({"store": ""}, "'store' must name the store"),
    ({"tables": {}}, "at least one table"),
    ({"tables": {"orders": {"family": "Invoices!"}}}, "family must be lowercase"),
    ({"tables": {"orders": {"family": "orders", "subject_column": "drop table"}}}, "is not a column name"),
    ({"tables": {"orders": {"family": "orders", "subject_column": "c", "columns": {"e": "contact.fax"}}}},
     "not a data category"),
])
def test_bad_mappings_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_mapping({"store": "s", "tables": {"t": {"family": "orders", "subject_column": "c"}}, **change}, "m")


@pytest.mark.parametrize(("spec", "family"), [
    ({"source": "tickets.v1"}, "tickets"),
    ({"source": "orders.v1"}, "orders"),
    ({"family": "logs"}, "logs"),
    ({"family": "tickets", "source": "ignored.v1"}, "tickets"),
])
def test_a_table_is_mapped_to_a_source_by_its_topic_or_family(spec: dict[str, Any], family: str) -> None:
    mapping = parse_mapping({"store": "s", "tables": {"t": {**spec, "subject_column": "c"}}}, "m")
    assert [t.table for t in mapping.for_family(family)] == ["t"]



@pytest.mark.parametrize(("categories", "record_key", "columns", "keys"), [
    ([], None, ["table", "order_id", "customer_id", "customer_email", "customer_name", "carrier"], ["o1", "o2"]),
    (["contact.email"], None, ["table", "order_id", "customer_email"], ["o1", "o2"]),
    # in the mapping's order; a category the mapping does not have adds nothing
    (["identity.name", "contact.email", "free_text"], None, ["table", "order_id", "customer_email", "customer_name"],
     ["o1", "o2"]),
    # carrier is not categorized by the mapping: never in a portability export
    (["transaction.logistics"], None, ["table", "order_id"], ["o1", "o2"]),
    (["contact.email"], "o2", ["table", "order_id", "customer_email"], ["o2"]),
])
def test_an_export_reads_every_column_or_the_key_and_the_commands_categories(
        engine: Engine, orders: tuple[StoreMapping, Table], categories: list[str], record_key: str | None,
        columns: list[str], keys: list[str]) -> None:
    mapping, tbl = orders
    found = export_rows(engine, mapping, command("export", "c1", record_key, categories=categories))
    assert sorted(row["order_id"] for row in found) == keys
    assert all(list(row) == columns for row in found)
    assert all(row["table"] == tbl.name for row in found)
    stored = rows(engine, tbl)
    assert all(row[c] == stored[row["order_id"]][c] for row in found for c in columns[1:])
    assert export_rows(engine, mapping, command("export", "c3", categories=categories)) == []


@pytest.mark.parametrize(("key_column", "categories", "columns"), [
    ("order_id", [], None),
    ("order_id", ["contact.email"], ["order_id", "customer_email"]),
    ("order_id", ["transaction.payment"], ["order_id"]),
    (None, ["contact.email", "identity.name"], ["customer_email", "customer_name"]),
    (None, ["transaction.payment"], []),
    ("customer_email", ["contact.email"], ["customer_email"]),   # once, even as key and categorized
])
def test_export_columns(key_column: str | None, categories: list[str], columns: list[str] | None) -> None:
    table = TableMapping("orders", "orders", "customer_id", key_column,
                         {"customer_email": "contact.email", "customer_name": "identity.name"})
    assert table.export_columns(categories) == columns


def applied_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.command_id for r in conn.execute(select(applied_commands.c.command_id))]


def test_a_batch_applies_in_order_and_a_replayed_batch_changes_nothing(
        engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    before = set(applied_ids(engine))
    erase, scrub = command("delete", "c1"), command("anonymize", "c2", categories=["contact.email"])
    batch = [erase, scrub, erase, command("delete", "nobody")]   # the erasure twice: applied once
    acks = apply_commands(engine, mapping, batch)
    assert [(a["command_id"], a["status"], a["rows_affected"]) for a in acks] == [
        (erase["command_id"], "applied", 2), (scrub["command_id"], "applied", 1), (erase["command_id"], "applied", 2),
        (batch[3]["command_id"], "not_found", 0)]
    assert set(rows(engine, tbl)) == {"o3"} and rows(engine, tbl)["o3"]["customer_email"] is None
    with engine.begin() as conn:   # a new row for c1 arrives; the replayed batch must not touch it
        conn.execute(tbl.insert().values(order_id="o4", customer_id="c1", customer_email="a@x.example"))
    replay = apply_commands(engine, mapping, batch)
    assert [(a["status"], a["rows_affected"]) for a in replay] == [(a["status"], a["rows_affected"]) for a in acks]
    assert rows(engine, tbl)["o4"]["customer_email"] == "a@x.example"
    added = [i for i in applied_ids(engine) if i not in before]
    assert sorted(added) == sorted({c["command_id"] for c in batch})   # each recorded once


def test_a_failing_command_fails_alone_and_stops_the_batch_there(
        engine: Engine, orders: tuple[StoreMapping, Table]) -> None:
    mapping, tbl = orders
    missing = f"tickets_{uuid.uuid4().hex[:8]}"   # mapped, but not in the database: every statement on it fails
    mapping = parse_mapping({"store": "shop-db", "tables": {
        tbl.name: {"family": "orders", "subject_column": "customer_id", "key_column": "order_id"},
        missing: {"family": "tickets", "subject_column": "customer_id"}}}, "test")
    first, broken, last = command("delete", "c1"), command("delete", "c1"), command("delete", "c2")
    broken["selector"] = {"family": "tickets", "record_key": None}
    store = SqlAlchemyStore(engine.url.render_as_string(hide_password=False), mapping)
    try:
        acks = store.apply_batch([first, broken, last])
        assert [(a["command_id"], a["status"]) for a in acks] == [(first["command_id"], "applied"),
                                                                  (broken["command_id"], "failed")]
        assert "c1" not in (acks[1]["error"] or "") and missing not in (acks[1]["error"] or "")
        assert set(rows(engine, tbl)) == {"o3"}   # the first applied and committed; the last not yet applied
        assert broken["command_id"] not in applied_ids(engine) and last["command_id"] not in applied_ids(engine)
        assert [a["status"] for a in store.apply_batch([last])] == ["applied"]
        assert rows(engine, tbl) == {}
    finally:
        store.close()
