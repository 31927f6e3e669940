"""``lethe sink``: the reference sink, materializing the example sources orders.v1 and logs.v1 into SQL tables.

Only those two (when the policy declares them): the tables are shaped for their records. A source of
your own is materialized by your own services; a store agent maps its tables (``source = ...``).

So that a fresh installation has rows for retention and erasure commands to act on. The tables
(``orders``: one row per order, updated by its later events; ``logs``: one row per event) are the
ones ``deploy/store-mapping.toml`` maps. Invalid records are skipped here (the worker dead-letters
them); a batch is written in one transaction before its offsets are committed. On
``LETHE_METRICS_PORT`` it serves /metrics (``lethe_sink_*``), /healthz and /readyz like the store agent.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, create_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from processors.decode import Decoder
from processors.errors import InvalidRecord, LetheError
from processors.policy import load_policy
from processors.schemas import SchemaCatalog
from streams.client import group_consumer, poll, stop_flag
from streams.connection import BrokerWatch
from streams.kafka import check_reachable
from streams.metrics import Metrics, sink_metrics
from streams.registry import registry_from, waiting_for_registry
from streams.settings import Settings

log = logging.getLogger(__name__)

metadata = MetaData()
orders = Table(
    "orders", metadata,
    Column("order_id", String(128), primary_key=True),
    Column("customer_id", String(128), index=True, nullable=False),
    Column("status", String(16)), Column("occurred_at", String(64)),
    Column("customer_name", String(256)), Column("customer_email", String(256)), Column("customer_phone", String(64)),
    Column("shipping_street", String(256)), Column("shipping_city", String(128)),
    Column("shipping_postcode", String(32)), Column("shipping_country", String(8)),
    Column("total_amount", Float), Column("currency", String(8)), Column("notes", String(4096)),
    Column("completed_at", DateTime(timezone=True)),
)
logs = Table(
    "logs", metadata,
    Column("event_id", String(128), primary_key=True),
    Column("customer_id", String(128), index=True), Column("session_id", String(128)),
    Column("occurred_at", String(64)), Column("kind", String(16)), Column("ip", String(64)),
    Column("user_agent", String(512)), Column("url", String(4096)), Column("lat", Float), Column("lon", Float),
)


def order_row(event: dict[str, Any]) -> dict[str, Any]:
    customer = event.get("customer") or {}
    address = event.get("shipping_address") or {}
    return {
        "order_id": event["order_id"], "customer_id": event["customer_id"], "status": event["event_type"],
        "occurred_at": event["occurred_at"], "customer_name": customer.get("name"),
        "customer_email": customer.get("email"), "customer_phone": customer.get("phone"),
        "shipping_street": address.get("street"), "shipping_city": address.get("city"),
        "shipping_postcode": address.get("postcode"), "shipping_country": address.get("country"),
        "total_amount": event["total_amount"], "currency": event["currency"], "notes": event.get("notes"),
    }


def log_row(event: dict[str, Any]) -> dict[str, Any]:
    geo = event.get("geo") or {}
    return {
        "event_id": event["event_id"], "customer_id": event.get("customer_id"), "session_id": event["session_id"],
        "occurred_at": event["occurred_at"], "kind": event["kind"], "ip": event["ip"],
        "user_agent": event.get("user_agent"), "url": event["url"], "lat": geo.get("lat"), "lon": geo.get("lon"),
    }


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise LetheError(f"the reference sink supports SQLite and PostgreSQL, not {dialect}")
    insert = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
    key = [c.name for c in table.primary_key.columns]
    statement = insert.on_conflict_do_update(
        index_elements=key, set_={c: insert.excluded[c] for c in rows[0] if c not in key})
    conn.execute(statement, rows)


def run_sink(settings: Settings, name: str | None = None) -> int:
    """Materialize the input topics; ``name`` gives a sink of its own (a consumer group per database)."""
    if settings.bootstrap_servers is None:
        raise LetheError("the reference sink needs LETHE_BOOTSTRAP_SERVERS")
    check_reachable(settings.bootstrap_servers)
    catalog = SchemaCatalog.load(settings.schemas_dir)
    declared = load_policy(settings.policy_path).sources
    # the reference tables fit the shipped example sources only; other sources need a sink of their own
    registry = registry_from(settings.schema_registry_url)
    stopping = stop_flag()
    decoders = {settings.topics.name(t): (waiting_for_registry(Decoder(
                    catalog.for_topic(declared[t].schema_name), catalog.by_fingerprint.get,
                    registry=registry).decode, lambda: bool(stopping)), shape, table)
                for t, shape, table in (("orders.v1", order_row, orders), ("logs.v1", log_row, logs))
                if t in declared}
    if not decoders:
        raise LetheError("the reference sink materializes orders.v1 and logs.v1, and the policy declares neither")
    metrics = Metrics(worker=False)
    written, skipped = sink_metrics(metrics)
    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
    engine = create_engine(settings.store_url)
    metadata.create_all(engine, checkfirst=True)
    group = f"{settings.app_id}.sink" + (f".{name}" if name else "")
    consumer = group_consumer(settings, list(decoders), group, "lethe-sink")
    watch = BrokerWatch(settings.bootstrap_servers, metrics).start()   # says once if it goes away
    print(f"lethe: reference sink writing {', '.join(decoders)} to tables orders and logs", file=sys.stderr,
          flush=True)
    metrics.ready_reason = ""
    try:
        while not stopping:
            metrics.beat()
            batch = poll(consumer, 500)
            if not batch:
                continue
            pending: dict[str, dict[Any, dict[str, Any]]] = {"orders": {}, "logs": {}}
            for tp, records in batch.items():
                decode, shape, table = decoders[tp.topic]
                for record in records:
                    try:
                        row = shape(decode(record.value))
                    except InvalidRecord:
                        skipped.labels(table.name).inc()
                        continue
                    pending[table.name][row[table.primary_key.columns.keys()[0]]] = row   # last event wins
            with engine.begin() as conn:
                upsert(conn, orders, list(pending["orders"].values()))
                upsert(conn, logs, list(pending["logs"].values()))
            consumer.commit()
            for table_name, rows in pending.items():
                written.labels(table_name).inc(len(rows))
    finally:
        watch.stop()
        consumer.close(autocommit=False)
        engine.dispose()
    return 0
