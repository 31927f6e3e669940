"""Chaos run: SIGKILL workers and store agents while traffic, retention and requests flow; check nothing is lost.

    .venv/bin/python bench/chaos.py [--minutes 3] [--seed N] [--rate 60] [--kill-every 6]

One embedded broker (Tansu, memory only); two ``lethe run`` workers in one group (same
``LETHE_APP_ID``); two stores, an SQLite file and a PostgreSQL database made for the run (dropped
at the end), each with a reference sink (``lethe sink --name``) and a store agent
(``lethe store-agent``, stores ``chaos-sqlite`` and ``chaos-pg``, both in the policy's
``[rights] stores``). The policy is deploy/policy.toml without its partners, with retention rules of seconds
(``--after``): logs deleted and cancelled orders deleted after ``--after`` s, completed orders
anonymized after 1.5x that.

While it runs: orders and logs (``processors/sample.py``, ``occurred_at`` = now, unique order ids,
some anonymous log events and some malformed records) at ``--rate`` for ``--subjects`` customers;
a few customers refuse analytics on ``consent.v1`` (their records are then gated); an erasure every
``--erase-every`` s (the customer's traffic stops ``--quiet`` s before it is filed; half of the
erased customers come back, with new events, once the worker has destroyed their secret) and an
access request every ``--access-every`` s, published to ``privacy-requests.v1``; every
``--kill-every`` s (jittered) a random worker or store agent is SIGKILLed and started again.
Then traffic stops, everything settles (at most ``--settle`` s) and the invariants are checked
and printed:

1. every input record is in its anonymized topic or the DLQ (duplicates counted), or was held
   back by a gate that the audit trail accounts for;
2. every expired deadline's command is recorded once in each store's ``lethe_applied_commands``
   and every ack of it agrees with that record;
3. every erasure (and access request) completed, and no row of an erased subject dated before the
   erasure is left in any store;
4. no subject got a second pseudonym except across one of its erasures;
5. the restarts (every killed process came back).

Exit 1 if an invariant fails (which one is printed), 2 if the run itself broke. Progress every
~10 s on stderr, the results on stdout. Children are killed and the temporary directory and the
PostgreSQL database removed on every exit, also on Ctrl-C. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _chaos_check import (
    Collector,
    Filed,
    Sent,
    Verdict,
    account_inputs,
    check_inputs,
    check_pseudonyms,
    check_requests,
    check_retention,
    epoch,
    expected_timers,
    retention_progress,
)
from kafka import KafkaProducer
from sqlalchemy import create_engine, text

from processors.sample import Person, Traffic
from streams.broker import EmbeddedBroker, free_port

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support import without_partners  # noqa: E402

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
STORES = ("chaos-sqlite", "chaos-pg")
ORDER_TYPES = ("placed", "paid", "shipped", "completed", "cancelled", "refunded")
ORDER_WEIGHTS = (30, 20, 15, 25, 5, 5)
_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


class RunError(RuntimeError):
    """The run itself broke (a process could not start, a topic is missing): no verdict."""


def now_iso() -> tuple[float, str]:
    at = time.time()
    return at, datetime.fromtimestamp(at, UTC).isoformat()


try:   # loaded here, not in the child between fork and exec, where other threads' locks may be held
    _LIBC: Any = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """Linux: a child gets SIGKILL if the bench dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)


# --- processes --------------------------------------------------------------------------------------

class Proc:
    """One ``lethe`` process, restartable; its output is appended to one log file."""

    def __init__(self, role: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.role, self.args, self.env, self.log_path = role, args, env, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.kills = self.unexpected = 0

    @property
    def kind(self) -> str:
        return self.role.split("-")[0]

    def start(self) -> None:
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== chaos: start {self.role} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *self.args],
                env={**self.env, "LETHE_METRICS_PORT": str(self.port)},
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                start_new_session=True, preexec_fn=_die_with_parent)   # Ctrl-C reaches the bench, which stops them

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- traffic -----------------------------------------------------------------------------------------

class Publisher(threading.Thread):
    """Orders and logs of the active customers at ``rate`` events/s; records what the broker took."""

    def __init__(self, bootstrap: str, prefix: str, people: list[Person], args: argparse.Namespace, tag: str) -> None:
        super().__init__(daemon=True, name="chaos-traffic")
        self.bootstrap, self.prefix, self.rate, self.tag = bootstrap, prefix, args.rate, tag
        self.producers = args.producers
        self.sample = Traffic(REPO / "schemas" / "examples", subjects=len(people), seed=args.seed)
        self.rng = random.Random(args.seed + 1)
        self.invalid_share, self.anonymous_share = args.invalid_share, 0.05
        self.lock = threading.Lock()
        self.active: dict[str, Person] = {p.customer_id: p for p in people}
        self.sent: dict[tuple[str, int, int], Sent] = {}
        self.count = self.failed = 0
        self.orders = 0
        self.stopping = threading.Event()

    def retire(self, subject: str) -> None:
        with self.lock:
            self.active.pop(subject, None)

    def restore(self, person: Person) -> None:
        with self.lock:
            self.active[person.customer_id] = person

    def pick(self, rng: random.Random) -> Person | None:
        with self.lock:
            return rng.choice(list(self.active.values())) if self.active else None

    def _event(self) -> tuple[str, bytes | None, bytes, Sent]:
        rng, sample = self.rng, self.sample
        with self.lock:
            person = rng.choice(list(self.active.values())) if self.active else None
        at, stamp = now_iso()
        if person is None or rng.random() < self.anonymous_share / 2:
            event = sample.log(anonymous=True)
            event["occurred_at"] = stamp
            return "logs.v1", None, json.dumps(event).encode(), Sent("logs.v1", None, event["event_id"],
                                                                     event["event_id"], None, at, True)
        key = person.customer_id.encode()
        if rng.random() < self.invalid_share:
            topic = rng.choice(("orders.v1", "logs.v1"))
            bad = rng.choice((b'{"event_id": "e1", "occurred_at": "2026-', b'{"event_id": 42}', b"[1, 2, 3]"))
            return topic, key, bad, Sent(topic, person.customer_id, None, None, None, at, False)
        if rng.random() < 0.5:
            event = sample.log(person)
            event["occurred_at"] = stamp
            return "logs.v1", key, json.dumps(event).encode(), Sent("logs.v1", person.customer_id, event["event_id"],
                                                                    event["event_id"], None, at, True)
        event = sample.order(person)
        self.orders += 1
        event.update(order_id=f"ORD-{self.tag}-{self.orders:07d}", occurred_at=stamp,
                     event_type=rng.choices(ORDER_TYPES, ORDER_WEIGHTS)[0])
        return "orders.v1", key, json.dumps(event).encode(), Sent("orders.v1", person.customer_id, event["event_id"],
                                                                  event["order_id"], event["event_type"], at, True)

    def run(self) -> None:
        producers = [KafkaProducer(bootstrap_servers=self.bootstrap, client_id=f"chaos-traffic-{n}", acks="all",
                                   linger_ms=5, retries=10) for n in range(self.producers)]
        began = time.monotonic()
        try:
            while not self.stopping.is_set():
                due = int((time.monotonic() - began) * self.rate) - self.count
                for _ in range(max(due, 0)):
                    topic, key, value, sent = self._event()
                    # several producers: like several upstream services writing the same partitions
                    future = producers[self.count % len(producers)].send(self.prefix + topic, key=key, value=value)
                    future.add_callback(self._taken, sent)
                    future.add_errback(self._lost)
                    self.count += 1
                self.stopping.wait(0.02)
            for producer in producers:
                producer.flush(60)
        finally:
            for producer in producers:
                producer.close(10)

    def _taken(self, sent: Sent, metadata: Any) -> None:
        with self.lock:
            self.sent[(sent.topic, metadata.partition, metadata.offset)] = sent

    def _lost(self, _: Any) -> None:
        self.failed += 1

    def snapshot(self) -> dict[tuple[str, int, int], Sent]:
        with self.lock:
            return dict(self.sent)


# --- the run -------------------------------------------------------------------------------------------

class Run:
    """Everything the run starts, so that one ``close()`` removes it whatever happened."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = f"chaos{os.getpid()}"
        self.prefix, self.app_id = f"{self.tag}.", self.tag
        self.dir = args.keep or Path(tempfile.mkdtemp(prefix="lethe-chaos-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.broker: EmbeddedBroker | None = None
        self.database: str | None = None
        self.procs: list[Proc] = []
        self.collector: Collector | None = None
        self.publisher: Publisher | None = None
        self.producer: KafkaProducer | None = None
        self.stores: dict[str, str] = {}   # store name -> SQLAlchemy URL

    # -- set-up
    def write_policy(self) -> Path:
        # without the partners: an erasure of a subject whose orders were shared would also wait for each
        # partner's store agent (docs/sharing.md), which this run does not start
        policy = without_partners((REPO / "deploy" / "policy.toml").read_text())
        for old, new in (('stores = ["shop-db"]', "stores = [" + ", ".join(f'"{s}"' for s in STORES) + "]"),
                         ('ack_timeout = "60s"', f'ack_timeout = "{self.args.ack_timeout:g}s"')):
            if old not in policy:
                raise RunError(f"deploy/policy.toml has no {old!r} to replace")
            policy = policy.replace(old, new)
        after = self.args.after
        policy = policy[: policy.index("[retention.")] + self.retention_toml(after)
        path = self.dir / "policy.toml"
        path.write_text(policy)
        return path

    @staticmethod
    def rules(after: float) -> dict[str, tuple[str, tuple[str, ...], float]]:
        return {"orders-completed": ("orders", ("completed",), 1.5 * after),
                "orders-cancelled": ("orders", ("cancelled", "refunded"), after),
                "logs": ("logs", (), after)}

    def retention_toml(self, after: float) -> str:
        parts = []
        for name, (family, on, seconds) in self.rules(after).items():
            trigger = f'trigger = "order_event"\non = {json.dumps(list(on))}' if on else 'trigger = "event_time"'
            action = "anonymize" if name == "orders-completed" else "delete"
            parts.append(f'[retention."{name}"]\nfamily = "{family}"\n{trigger}\nafter = "{seconds:g}s"\n'
                         f'action = "{action}"\n')
        return "\n".join(parts)

    def create_database(self) -> str:
        name = f"lethe_chaos_{os.getpid()}"
        admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {name}"))
        except Exception as exc:
            raise RunError(f"cannot create a PostgreSQL database at {POSTGRES} ({type(exc).__name__})") from None
        finally:
            admin.dispose()
        self.database = name
        return f"{POSTGRES}/{name}"

    def start(self) -> None:
        args = self.args
        self.broker = EmbeddedBroker().start()
        bootstrap = self.broker.bootstrap
        base = {**os.environ, "LETHE_BOOTSTRAP_SERVERS": bootstrap, "LETHE_TOPIC_PREFIX": self.prefix,
                "LETHE_APP_ID": self.app_id, "LETHE_POLICY": str(self.write_policy()),
                "LETHE_PSEUDONYM_KEY": secrets.token_hex(32), "LETHE_SESSION_TIMEOUT_S": "4",
                "LETHE_PARTITIONS": str(args.partitions), "LETHE_DATA_DIR": str(self.dir / "data")}
        base.pop("LETHE_INGEST", None)   # the default (direct) ingest only
        created = subprocess.run([sys.executable, "-m", "streams.cli", "topics", "create"], env=base, cwd=REPO,
                                 capture_output=True, timeout=120)
        if created.returncode:
            raise RunError(f"lethe topics create failed: {created.stderr.decode(errors='replace')[-800:]}")
        self.stores = {"chaos-sqlite": f"sqlite:///{self.dir / 'chaos-sqlite.db'}", "chaos-pg": self.create_database()}
        mapping = (REPO / "deploy" / "store-mapping.toml").read_text()
        for store, url in self.stores.items():
            path = self.dir / f"mapping-{store}.toml"
            path.write_text(mapping.replace('store = "shop-db"', f'store = "{store}"'))
            env = {**base, "LETHE_STORE_URL": url}
            self.procs.append(Proc(f"sink-{store}", ["sink", "--name", store], env, self.dir / f"sink-{store}.log"))
            self.procs.append(Proc(f"agent-{store}", ["store-agent", "--mapping", str(path)], env,
                                   self.dir / f"agent-{store}.log"))
        for n in (1, 2):
            data = self.dir / f"worker-{n}"
            env = {**base, "LETHE_DATA_DIR": str(data), "LETHE_STORE_URL": f"sqlite:///{data / 'lethe.db'}"}
            self.procs.append(Proc(f"worker-{n}", ["run"], env, self.dir / f"worker-{n}.log"))
        for proc in self.procs:
            proc.start()
        deadline = time.monotonic() + args.start_timeout
        waiting = list(self.procs)
        while waiting:
            for proc in waiting:
                if proc.exited():
                    raise RunError(f"{proc.role} exited with code {proc.process.returncode if proc.process else '?'} "
                                   f"at start:\n{proc.tail()}")
            waiting = [p for p in waiting if p.kind != "sink" and not p.ready()]   # sinks serve no /readyz
            if waiting and time.monotonic() > deadline:
                raise RunError(f"not ready within {args.start_timeout:.0f} s: {', '.join(p.role for p in waiting)}")
            time.sleep(0.5)
        self.collector = Collector(bootstrap, self.prefix, self.app_id)
        self.collector.start()
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="chaos-requests", acks="all", retries=10)

    def publish(self, topic: str, key: str, event: dict[str, Any]) -> None:
        assert self.producer is not None
        self.producer.send(self.prefix + topic, key=key.encode(), value=json.dumps(event).encode()).get(timeout=60)

    # -- tear-down
    def close(self, failed: bool) -> None:
        if self.publisher is not None:
            self.publisher.stopping.set()
        if self.collector is not None:
            self.collector.stopping.set()
        for proc in self.procs:
            if proc.process is not None and proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.stop()
            except (OSError, subprocess.SubprocessError):
                proc.kill()
        if self.producer is not None:
            self.producer.close(5)
        for thread in (self.publisher, self.collector):
            if thread is not None and thread.is_alive():
                thread.join(15)
        if self.broker is not None:
            self.broker.stop()
        if self.database is not None:
            admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)"))
            except Exception as exc:
                progress(f"could not drop database {self.database} ({type(exc).__name__}); drop it by hand")
            finally:
                admin.dispose()
        if self.args.keep is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif failed:
            progress(f"logs and the SQLite store kept in {self.dir}")


def read_once(run: Run) -> Collector:
    """Every checked topic read from the beginning to its end by a new reader."""
    assert run.broker is not None
    reader = Collector(run.broker.bootstrap, run.prefix, run.app_id, once=True)
    reader.start()
    reader.join(600)
    if reader.is_alive() or reader.error is not None:
        reader.stopping.set()
        raise RunError(f"reading the topics back failed: {reader.error!r}")
    return reader


def store_facts(url: str, erased: list[Filed]) -> tuple[dict[str, tuple[str, int, int]], dict[str, int]]:
    """(lethe_applied_commands by command id, rows dated before each erase request of its subject)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            applied = {row[0]: (row[1], int(row[2]), int(row[3])) for row in conn.execute(text(
                "SELECT command_id, min(status), min(rows_affected), count(*) FROM lethe_applied_commands "
                "GROUP BY command_id"))}
            rows: list[tuple[str, str]] = []
            subjects = sorted({f.subject for f in erased})
            for table in ("orders", "logs"):
                for i in range(0, len(subjects), 200):
                    chunk = subjects[i:i + 200]
                    marks = ", ".join(f":s{n}" for n in range(len(chunk)))
                    rows += [(r[0], r[1]) for r in conn.execute(
                        text(f"SELECT customer_id, occurred_at FROM {table} WHERE customer_id IN ({marks})"),
                        {f"s{n}": s for n, s in enumerate(chunk)})]
    finally:
        engine.dispose()
    left = {f.request_id: sum(1 for subject, at in rows if subject == f.subject and epoch(at) <= f.occurred)
            for f in erased}
    return applied, left


def chaos(run: Run) -> int:
    args = run.args
    rng = random.Random(args.seed)
    run.start()
    assert run.collector is not None and run.broker is not None
    collector = run.collector
    people = Traffic(REPO / "schemas" / "examples", subjects=args.subjects, seed=args.seed).people
    by_id = {p.customer_id: p for p in people}
    publisher = run.publisher = Publisher(run.broker.bootstrap, run.prefix, people, args, run.tag)
    refusing = rng.sample(people, min(args.refusals, len(people)))
    refusal_at = sorted((rng.uniform(0.1, 0.7) * args.minutes * 60, p.customer_id) for p in refusing)
    filed: list[Filed] = []
    refused: set[str] = set()                      # customers whose refusal was published
    to_file: list[tuple[float, str]] = []          # (monotonic due, subject) of erasures being prepared
    returning: dict[str, str] = {}                 # request id -> subject, of erased customers who come back
    victims = [p for p in run.procs if p.kind in ("worker", "agent")]
    progress(f"{len(run.procs)} processes ready (files in {run.dir}); traffic {args.rate:g}/s for "
             f"{args.minutes:g} min, a kill every ~{args.kill_every:g} s")
    began = time.monotonic()
    publisher.start()
    next_kill = began + args.kill_every * rng.uniform(0.5, 1.5) if args.kill_every > 0 else float("inf")
    next_erase, next_access, next_report = began + args.erase_every, began + args.access_every / 2, began + 10

    def file(kind: str, subject: str) -> None:
        at, stamp = now_iso()
        request = Filed(f"{run.tag}-{kind}-{len(filed):04d}", kind, subject, at)
        run.publish("privacy-requests.v1", subject, {"request_id": request.request_id, "occurred_at": stamp,
                                                     "customer_id": subject, "type": kind, "details": {},
                                                     "channel": "api"})
        filed.append(request)
        if kind == "erase" and rng.random() < args.return_share:
            returning[request.request_id] = subject

    def revive() -> None:
        """An erased customer comes back once the worker destroyed its secret (the shred audit)."""
        with collector.lock:
            shredded = {rid for subject in returning.values() for rid, _ in collector.shreds.get(subject, ())}
        for request_id, subject in list(returning.items()):
            if request_id in shredded:
                publisher.restore(by_id[subject])
                del returning[request_id]

    def keep_up() -> None:
        for proc in run.procs:
            if proc.exited():
                proc.unexpected += 1
                progress(f"  {proc.role} exited by itself (code {proc.process.returncode if proc.process else '?'}); "
                         f"restarting it:\n{proc.tail(8)}")
                proc.start()
        if collector.error is not None:
            raise RunError(f"the collector failed: {collector.error!r}")

    def report(phase: str) -> None:
        with collector.lock:
            outs = sum(sum(c.values()) for c in collector.out_counts.values())
            done = sum(1 for f in filed if (collector.request_states.get(f.request_id) or {}).get("status")
                       == "completed")
            acks = Counter(store for (_, store), acks in collector.acks.items() if acks)
            commands = len(collector.commands)
        kills = Counter(p.kind for p in victims for _ in range(p.kills))
        progress(f"{phase}: published {publisher.count:,}, outputs {outs:,}, dlq {sum(collector.dlq.values()):,}; "
                 f"requests {done}/{len(filed)} completed; commands {commands:,}, acked by "
                 f"{', '.join(f'{s} {acks[s]:,}' for s in STORES)}; kills worker {kills['worker']}, "
                 f"agent {kills['agent']}")

    end = began + args.minutes * 60
    while (now := time.monotonic()) < end:
        keep_up()
        if now >= next_kill:
            victim = rng.choice(victims)
            victim.kill()
            victim.kills += 1
            victim.start()
            next_kill = now + args.kill_every * rng.uniform(0.5, 1.5)
        while refusal_at and now - began >= refusal_at[0][0]:
            _, subject = refusal_at.pop(0)
            _, stamp = now_iso()
            run.publish("consent.v1", subject, {"event_id": str(uuid.uuid4()), "occurred_at": stamp,
                                                "customer_id": subject, "purpose": "analytics", "granted": False,
                                                "policy_version": "2026-11-01", "source": "account_settings"})
            refused.add(subject)
        if now >= next_erase:
            person = publisher.pick(rng)
            if person is not None:
                publisher.retire(person.customer_id)   # its traffic stops; the sinks catch up before the erasure
                to_file.append((now + args.quiet, person.customer_id))
            next_erase = now + args.erase_every
        while to_file and now >= to_file[0][0]:
            file("erase", to_file.pop(0)[1])
        if now >= next_access:
            person = publisher.pick(rng)
            if person is not None:
                file("access", person.customer_id)
            next_access = now + args.access_every
        revive()
        if now >= next_report:
            report(f"{now - began:5.0f}s of {args.minutes * 60:.0f}")
            next_report = now + 10
        time.sleep(0.1)
    for _, subject in to_file:
        file("erase", subject)
    publisher.stopping.set()
    publisher.join(120)
    sent = publisher.snapshot()
    if publisher.failed:
        progress(f"  {publisher.failed} records were not taken by the broker (not counted as published)")
    rules = run.rules(args.after)
    timers = expected_timers(sent.values(), rules)
    last_due = max(timers.values(), default=time.time())
    progress(f"traffic stopped: {len(sent):,} records published, {len(filed)} requests filed; settling (at most "
             f"{args.settle:.0f} s; the last deadline is due in {max(last_due - time.time(), 0):.0f} s)")

    settle_began = time.monotonic()
    stuck_since: float | None = None   # when only inputs were left to account for
    while True:
        keep_up()
        with collector.lock:
            a = account_inputs(sent, collector, run.prefix)
            states = [collector.request_states.get(f.request_id) for f in filed]
            due, fired, acked = retention_progress(timers, collector, STORES, time.time())
        open_requests = sum(1 for s in states if not s or s["status"] not in ("completed", "failed"))
        lost = a["unaccounted"] + a["anonymous_missing"] + a["invalid_missing"]
        rest_done = not open_requests and due == fired == acked == len(timers) and time.time() > last_due + 1
        settled = rest_done and not lost
        if rest_done and lost:   # the live reader may have been served short: read everything once more
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since > 20:
                again = read_once(run)
                settled = not sum(account_inputs(sent, again, run.prefix)[k]
                                  for k in ("unaccounted", "anonymous_missing", "invalid_missing"))
                stuck_since = None
        waited = time.monotonic() - settle_began
        if settled or waited > args.settle:
            break
        if time.monotonic() >= next_report:
            progress(f"settling {waited:4.0f}s: inputs not yet out {lost:,}; open requests {open_requests}; "
                     f"deadlines due {due:,}/{len(timers):,}, fired {fired:,}, acked by every store {acked:,}")
            next_report = time.monotonic() + 10
        time.sleep(2)
    settle_s = time.monotonic() - settle_began
    progress(f"settled in {settle_s:.0f} s" if settled else f"NOT settled after {settle_s:.0f} s; checking anyway")
    check_time = time.time()
    time.sleep(2)   # late duplicates, acks of replays
    collector.stopping.set()
    collector.join(30)
    final = read_once(run)   # the verdicts rest on one complete read, not on the live reader
    progress(f"read back {final.records:,} records once more for the check")

    erasures = [f for f in filed if f.type == "erase"]
    applied, rows_left = {}, {}
    for store, url in run.stores.items():
        applied[store], rows_left[store] = store_facts(url, erasures)
    verdicts = [
        check_inputs(sent, final, run.prefix, refused),
        check_retention(timers, final, applied, check_time),
        check_requests(filed, final, list(STORES), rows_left, applied),
        check_pseudonyms(sent, final, erasures),
        restarts_verdict(run, victims),
    ]
    print_report(run, sent, filed, refused, verdicts, settle_s, settled, final, collector)
    return 0 if all(v.ok for v in verdicts) else 1


def restarts_verdict(run: Run, victims: list[Proc]) -> Verdict:
    by_kind = Counter(p.kind for p in victims for _ in range(p.kills))
    down = [p.role for p in run.procs if p.process is None or p.process.poll() is not None]
    lines = [f"SIGKILL + restart: workers {by_kind['worker']} ("
             + ", ".join(f"{p.role} {p.kills}" for p in victims if p.kind == "worker")
             + f"), store agents {by_kind['agent']} ("
             + ", ".join(f"{p.role} {p.kills}" for p in victims if p.kind == "agent") + ")",
             "exits nobody asked for (restarted too): "
             + (", ".join(f"{p.role} {p.unexpected}" for p in run.procs if p.unexpected) or "none"),
             f"processes not running at the check: {', '.join(down) or 'none'}"]
    return Verdict("worker and agent restarts counted; every killed process came back", not down, lines)


def quantile(ordered: list[float], share: float) -> float:
    """Nearest rank of sorted values."""
    return ordered[min(max(int(share * len(ordered) + 0.999999) - 1, 0), len(ordered) - 1)]


def print_report(run: Run, sent: dict[tuple[str, int, int], Sent], filed: list[Filed], refused: set[str],
                 verdicts: list[Verdict], settle_s: float, settled: bool, collector: Collector,
                 live: Collector) -> None:
    args = run.args
    kinds = Counter(s.topic if s.valid else "malformed" for s in sent.values())
    anonymous = sum(1 for s in sent.values() if s.valid and s.subject is None)
    requests = Counter(f.type for f in filed)
    print(f"\nChaos run: {args.minutes:g} min, seed {args.seed}, embedded broker, {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}")
    print(f"* 2 workers (`lethe run`, app id {run.app_id}, {args.partitions} partitions, session 4 s), stores "
          f"{STORES[0]} (SQLite) and {STORES[1]} (PostgreSQL), each with `lethe sink` and `lethe store-agent`; "
          f"retention: logs and cancelled orders deleted after {args.after:g} s, completed orders anonymized after "
          f"{1.5 * args.after:g} s; ack_timeout {args.ack_timeout:g} s")
    print(f"* traffic: {len(sent):,} records at {args.rate:g}/s for {args.subjects} customers: "
          f"{kinds['orders.v1']:,} orders, {kinds['logs.v1']:,} logs ({anonymous:,} anonymous), "
          f"{kinds['malformed']:,} malformed; {len(refused)} customers refused analytics during the run; "
          f"requests: {requests['erase']} erase, {requests['access']} access")
    print(f"* SIGKILL every ~{args.kill_every:g} s of a random worker or store agent, restarted at once; settle "
          f"{settle_s:.0f} s{'' if settled else ' (NOT settled within --settle)'}; {collector.records:,} records "
          f"read back; audit actions: {dict(collector.audit_actions.most_common())}")
    missed = sorted(collector.seen - live.seen)
    print(f"* the live reader (one consumer over the whole run) missed {len(missed)} of the records the final read "
          f"found" + (f": {missed[:8]}" if missed else ""))
    late = sorted(collector.lateness.values())
    if late:
        print(f"* retention lateness (deadline -> command published, from the command audits): p50 "
              f"{quantile(late, 0.5):.2f} s, p99 {quantile(late, 0.99):.2f} s, max {late[-1]:.2f} s "
              f"({len(late):,} commands)")
    for kind in ("erase", "access"):
        took = sorted(t for k, t in collector.seconds_to_complete.values() if k == kind)
        if took:
            print(f"* {kind} request -> completed (the worker's seconds_to_complete): p50 {quantile(took, 0.5):.1f} s, "
                  f"max {took[-1]:.1f} s ({len(took)} requests)")
    print()
    for v in verdicts:
        print(f"[{'PASS' if v.ok else 'FAIL'}] {v.name}")
        for line in v.lines:
            print(f"       {line}")
    failed = [v.name for v in verdicts if not v.ok]
    print("\nResult: " + ("every invariant holds" if not failed else "FAILED: " + " | ".join(failed)))
    print(f"Command: .venv/bin/python bench/chaos.py {' '.join(sys.argv[1:])}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the chaos phase (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    parser.add_argument("--rate", type=float, default=60.0, help="orders + logs per second (default 60)")
    parser.add_argument("--producers", type=int, default=1,
                        help="producers publishing the orders and logs, in turn (default 1; see bench/README.md)")
    parser.add_argument("--subjects", type=int, default=200, help="customers (default 200)")
    parser.add_argument("--kill-every", type=float, default=6.0,
                        help="seconds between SIGKILLs, jittered 0.5-1.5x (default 6; 0: no kills)")
    parser.add_argument("--erase-every", type=float, default=5.0, help="seconds between erasures (default 5)")
    parser.add_argument("--access-every", type=float, default=8.0, help="seconds between access requests (default 8)")
    parser.add_argument("--quiet", type=float, default=5.0,
                        help="seconds a customer's traffic stops before its erasure is filed (default 5)")
    parser.add_argument("--return-share", type=float, default=0.5,
                        help="share of erased customers who come back once their secret is destroyed "
                             "(default 0.5)")
    parser.add_argument("--refusals", type=int, default=10, help="customers who refuse analytics (default 10)")
    parser.add_argument("--invalid-share", type=float, default=0.01, help="share of malformed records (default 0.01)")
    parser.add_argument("--after", type=float, default=10.0, help="retention period in seconds (default 10)")
    parser.add_argument("--ack-timeout", type=float, default=30.0, help="the policy's [rights] ack_timeout (s)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic (default 4)")
    parser.add_argument("--settle", type=float, default=480.0,
                        help="at most this many seconds to settle after the traffic (default 480)")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds for the processes to be ready")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and the SQLite store in this directory")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.subjects < 10 or args.after <= 0 or args.producers < 1:
        parser.error("--minutes, --rate, --producers and --after must be positive, --subjects at least 10")
    if args.seed is None:
        args.seed = random.randrange(1, 1_000_000)
    progress(f"chaos run, seed {args.seed}")

    def interrupted(signum: int, _: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    run = Run(args)
    code = 2
    try:
        code = chaos(run)
        return code
    except RunError as exc:
        print(f"chaos: the run broke: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:   # e.g. the broker went away: still no verdict, and still clean up
        print(f"chaos: the run broke: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chaos: interrupted; stopping every process", file=sys.stderr)
        code = 130
        return code
    finally:
        run.close(failed=code != 0)


if __name__ == "__main__":
    sys.exit(main())
