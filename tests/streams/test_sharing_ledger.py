"""The sharing ledger end to end (issue 12, items 3 and 4): a real worker on the embedded broker, the
shop's store agent, and partner store agents on SQLite and PostgreSQL.

Subject a places an order (shared with parcelco and paynow), b places an order and browses (also
shared with webstats, a partner of logs.v1), c only browses (webstats alone). The worker is
SIGKILLed and restarted: the ledger is restored. Then a's access export lists exactly its
recipients; each partner keeps the records it received (naming their subject by its reference at
that partner, never by id); c's erasure reaches webstats and no other partner; b's erasure waits for paynow,
whose agent is not running, is sent again to paynow alone, and completes only once paynow's agent
(on PostgreSQL) has acked.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, select
from support import Service, store_database, wait_for, wait_for_assignment
from test_requests import Stack, lethe

from processors.pseudonym import partner_reference
from streams.broker import EmbeddedBroker
from streams.client import read
from streams.settings import Settings

pytestmark = pytest.mark.integration

WEBSTATS = """
[partners.webstats]
source = "logs.v1"
purpose = "web_analytics"
basis = "legitimate_interest"
region = "EU"
safeguard = "adequacy"

[partners.webstats.fields]
"event_id" = "keep"
"kind" = "keep"
"url" = "keep"
"""
# partner -> (its store database kind, its table)
PARTNERS = {"parcelco": ("sqlite", "shipments"), "paynow": ("postgresql", "payments"),
            "webstats": ("sqlite", "visits")}


class PartnerStore:
    """A partner's database, one table of the records it received on its topic (keyed by the record's
    key, naming the subject by ``lethe.subject``, the subject's reference at that partner), and its
    store agent, which selects a subject's rows by that reference."""

    def __init__(self, name: str, url: str, table: str, family: str, stack: Stack) -> None:
        self.name, self.url, self.stack = name, url, stack
        self.engine = create_engine(url)
        self.table = Table(table, MetaData(), Column("row_id", String, primary_key=True),
                           Column("subject_ref", String), Column("note", String))
        self.table.metadata.create_all(self.engine)
        self.mapping = stack.tmp_path / f"{name}-mapping.toml"
        self.mapping.write_text(f'store = "ignored"\n[tables.{table}]\nfamily = "{family}"\n'
                                f'subject_column = "subject_ref"\nkey_column = "row_id"\n'
                                f'[tables.{table}.columns]\nnote = "free_text"\n')
        self.agent: Service | None = None

    def receive(self) -> list[dict[str, Any]]:
        """Keep every record published to the partner so far, as a partner's consumer would."""
        topic = f"{self.stack.prefix}partners.{self.name}.v1"
        records = [(r.key, json.loads(r.value or b"{}")) for r in read(self.stack.bootstrap, [topic], timeout=20,
                                                                            idle=1.5)]
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), [{"row_id": f"{n}-{(key or b'').decode()}",
                                                "subject_ref": record["lethe"]["subject"], "note": "x"}
                                               for n, (key, record) in enumerate(records)])
        return [record for _, record in records]

    def customers(self) -> set[str]:
        """The subjects of the rows it keeps, by their reference at this partner."""
        with self.engine.connect() as conn:
            return {r.subject_ref for r in conn.execute(select(self.table))}

    def start(self) -> None:
        env = {**self.stack.env, "LETHE_STORE_URL": self.url}
        self.agent = Service("store-agent", env, self.stack.tmp_path / f"agent-{self.name}.log",
                             "--commands-topic", f"partners.{self.name}.commands.v1", "--name",
                             f"partner.{self.name}", "--mapping", str(self.mapping))

    def stop(self) -> int:
        self.engine.dispose()
        return self.agent.stop() if self.agent is not None else 0


def ledger(stack: Stack) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The ledger topic's latest entry per key (as compaction keeps it)."""
    entries = {}
    for record in read(stack.bootstrap, [stack.prefix + "privacy.sharing.v1"], timeout=20, idle=1.5):
        entry = json.loads(record.value or b"{}")
        assert record.key == f"{entry['subject']}|{entry['partner']}|{entry['category']}".encode()
        entries[(entry["subject"], entry["partner"], entry["category"])] = entry
    return entries


def commands_on(stack: Stack, partner: str) -> list[dict[str, Any]]:
    topic = f"{stack.prefix}partners.{partner}.commands.v1"
    return [json.loads(r.value or b"{}") for r in read(stack.bootstrap, [topic], timeout=10, idle=1.5)]


def test_the_ledger_survives_a_sigkill_lists_recipients_and_erasure_reaches_exactly_them(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    stack = Stack(broker, tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", "ledger", partners=True)
    policy = Path(stack.worker.env["LETHE_POLICY"])
    # a short resolution: a's second order, if a later batch than its first, reaches the topic in seconds
    policy.write_text(policy.read_text().replace('resolution = "1h"', 'resolution = "2s"') + WEBSTATS)
    a, b, c = stack.traffic.people[:3]
    partners: dict[str, PartnerStore] = {}
    with store_database("postgresql", tmp_path) as pg_url:
        try:
            for name, (kind, table) in PARTNERS.items():
                url = pg_url if kind == "postgresql" else f"sqlite:///{tmp_path / (name + '.db')}"
                partners[name] = PartnerStore(name, url, table, "logs" if name == "webstats" else "orders", stack)
            stack.worker.start()
            stack.start("sink", "store-agent")
            stack.send("orders.v1", [stack.traffic.order(a), stack.traffic.order(b), stack.traffic.order(a)])
            stack.send("logs.v1", [stack.traffic.log(b), stack.traffic.log(c)])
            wait_for(lambda: (lambda o, lg: len(o) == 3 and len(lg) == 2)(*stack.rows()), 60, "the shop's rows")
            expected = {(a.customer_id, "parcelco"), (a.customer_id, "paynow"), (b.customer_id, "parcelco"),
                        (b.customer_id, "paynow"), (b.customer_id, "webstats"), (c.customer_id, "webstats")}
            a_name = (a.customer_id, "parcelco", "identity.name")
            before = wait_for(lambda: (lambda e: e if {(s, p) for s, p, _ in e} == expected
                                       and e.get(a_name, {}).get("count") == 2 else None)(ledger(stack)),
                              60, "the ledger of every share, a's name counted twice")
            name_of_a = before[a_name]
            assert name_of_a["basis"] == "contract" and name_of_a["region"] == "EU"
            assert (a.customer_id, "paynow", "identity.name") not in before   # paynow never gets a name
            assert stack.worker.metric("lethe_shares_total", partner="parcelco", category="identity.name") == 3

            # a SIGKILL and a restart: the ledger is restored from its topic
            assert stack.worker.stop(signal.SIGKILL) == -signal.SIGKILL
            time.sleep(float(stack.worker.env["LETHE_SESSION_TIMEOUT_S"]) + 2)
            stack.worker.start()
            wait_for_assignment([stack.worker])
            assert "restored sharing ledger of partitions" in stack.worker.log()

            # the access export lists a's recipients, and only them
            out = tmp_path / "exports"
            filed = lethe(stack.env, "request", "access", "--customer", a.customer_id, "--out", str(out))
            assert filed.returncode == 0, filed.stderr[-2000:]
            [path] = list(out.glob("*.json"))
            recipients = json.loads(path.read_text())["lethe"]["recipients"]
            assert [r["partner"] for r in recipients] == ["parcelco", "paynow"]
            parcelco = recipients[0]
            assert {"identity.name", "contact.address"} <= set(parcelco["categories"])
            assert (parcelco["basis"], parcelco["region"], parcelco["safeguard"]) == ("contract", "EU", "adequacy")
            assert parcelco["first_shared_at"] == name_of_a["first_shared_at"]
            assert (recipients[1]["region"], recipients[1]["safeguard"]) == ("US", "scc")
            assert "identity.name" not in recipients[1]["categories"]

            # each partner keeps what it received: its subjects by their reference there, never by id
            key = Settings.from_env(stack.env).pseudonym_key.reveal()

            def ref(partner: str, *people: Any) -> set[str]:
                return {partner_reference(key, partner, p.customer_id) for p in people}

            for name, partner in partners.items():
                received = partner.receive()
                assert all(p.customer_id not in json.dumps(r) for r in received for p in (a, b, c)), name
            assert partners["parcelco"].customers() == ref("parcelco", a, b)
            assert partners["paynow"].customers() == ref("paynow", a, b)
            assert partners["webstats"].customers() == ref("webstats", b, c)
            partners["parcelco"].start()
            partners["webstats"].start()   # paynow's agent is not running yet

            # c was shared with webstats only: its erasure asks webstats and no other partner
            filed = lethe(stack.env, "request", "erase", "--customer", c.customer_id)
            c_request = filed.stdout.split()[0].decode()
            status = json.loads(lethe(stack.env, "request", "status", c_request, "--wait", "60").stdout)
            assert status["status"] == "completed", status
            assert status["stores"] == ["shop-db", "partner.webstats"]
            assert status["partners"] == {"partner.webstats": "webstats"}
            assert {k.split("|")[1] for k in status["acks"]} == {"shop-db", "partner.webstats"}
            assert partners["webstats"].customers() == ref("webstats", b)
            assert partners["parcelco"].customers() == ref("parcelco", a, b)

            # b was shared with all three: not complete while paynow has not acked; sent to paynow again
            filed = lethe(stack.env, "request", "erase", "--customer", b.customer_id)
            b_request = filed.stdout.split()[0].decode()
            retried = wait_for(lambda: [e for e in stack.audit()
                                        if e["request_id"] == b_request and e["action"] == "retry"], 60,
                               "a retry of b's erasure")
            assert retried[0]["details"]["waiting_for"] == "partner.paynow"
            state = stack.state(b_request) or {}
            assert state["status"] == "in_progress", state
            assert set(state["partners"].values()) == {"parcelco", "paynow", "webstats"}
            assert partners["parcelco"].customers() == ref("parcelco", a)
            assert partners["webstats"].customers() == set()
            assert partners["paynow"].customers() == ref("paynow", a, b)
            wait_for(lambda: stack.worker.metric("lethe_partner_commands_unacked", partner="paynow") == 2, 10,
                     "paynow's two commands (orders, logs) unacked")
            assert stack.worker.metric("lethe_partner_commands_unacked", partner="parcelco") == 0
            assert stack.worker.metric("lethe_partner_oldest_unacked_seconds", partner="paynow") > 0

            partners["paynow"].start()   # on PostgreSQL
            status = json.loads(lethe(stack.env, "request", "status", b_request, "--wait", "60").stdout)
            assert status["status"] == "completed", status
            assert partners["paynow"].customers() == ref("paynow", a)
            wait_for(lambda: stack.worker.metric("lethe_partner_commands_unacked", partner="paynow") == 0, 10,
                     "no command left unacked")
            assert partners["parcelco"].customers() == ref("parcelco", a)

            # the partner topics carried commands for the subjects each partner received, and no other,
            # naming them by their reference at that partner
            for name, subjects in (("parcelco", ref("parcelco", b)), ("paynow", ref("paynow", b)),
                                   ("webstats", ref("webstats", b, c))):
                assert {cmd["subject"] for cmd in commands_on(stack, name)} == subjects, name
        finally:
            codes = {name: p.stop() for name, p in partners.items()}
            stack.stop()
            assert set(codes.values()) <= {0}, {n: p.agent.log()[-2000:] for n, p in partners.items() if p.agent}
