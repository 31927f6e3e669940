"""What bench/chaos.py reads back and the invariants it checks (a helper of the chaos run).

:class:`Collector` reads every topic the checks need from the beginning, without a consumer
group, for the whole run: the anonymized outputs, the DLQ, the audit trail, the lifecycle commands
and acks, the export parts and the requests changelog. The ``check_*`` functions compare what was
published (:class:`Sent`, recorded by the bench at publish time) with what came out, and each
returns a :class:`Verdict`: a name, pass or fail, and the lines that explain it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition

OUTPUT_OF = {"orders.v1": "orders.anonymized.v1", "logs.v1": "logs.anonymized.v1"}
FAMILY_OF = {"orders.v1": "orders", "logs.v1": "logs"}
DONE_ACKS = ("applied", "not_found")


def epoch(text: str) -> float:
    """Epoch seconds of an RFC 3339 time as Lethe writes them (Z or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Sent:
    """One input record as the bench published it (coordinates from the producer's metadata)."""

    topic: str                 # canonical: orders.v1 or logs.v1
    subject: str | None        # None: an anonymous log event
    event_id: str | None       # None: a malformed record, meant for the DLQ
    record_key: str | None     # order_id (orders) or event_id (logs)
    event_type: str | None
    occurred: float            # the event's occurred_at, epoch seconds
    valid: bool


@dataclass
class Filed:
    """A rights request the bench filed."""

    request_id: str
    type: str
    subject: str
    occurred: float


@dataclass
class Verdict:
    name: str
    ok: bool
    lines: list[str] = field(default_factory=list)


class Collector(threading.Thread):
    """Reads the output, DLQ, audit, command, ack, export and requests-changelog topics as they grow."""

    def __init__(self, bootstrap: str, prefix: str, app_id: str, once: bool = False) -> None:
        super().__init__(daemon=True, name="chaos-collector" + ("-once" if once else ""))
        self.bootstrap, self.once = bootstrap, once   # once: read to the end one time, then stop
        self.names = {c: prefix + c for c in ("orders.anonymized.v1", "logs.anonymized.v1", "dlq.v1",
                                               "privacy.audit.v1", "lifecycle.commands.v1", "lifecycle.acks.v1",
                                               "privacy.exports.v1")}
        self.names["requests-changelog"] = f"{app_id}-requests-changelog"
        self.canonical = {name: c for c, name in self.names.items()}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.records = 0
        self.seen: set[tuple[str, int, int]] = set()   # (canonical topic, partition, offset) of every record read
        # outputs: canonical output -> event id -> copies; and every copy's (event id, key, timestamp)
        self.out_counts: dict[str, Counter[str]] = {o: Counter() for o in OUTPUT_OF.values()}
        self.out_copies: list[tuple[str, str, bytes | None, float]] = []
        self.unreadable_outputs = 0
        self.dlq: Counter[tuple[str, int, int]] = Counter()          # (source topic, partition, offset)
        self.dlq_rules: Counter[str] = Counter()
        self.gates: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)   # (subject, output) -> audit id -> n
        self.shreds: dict[str, list[tuple[str, float]]] = defaultdict(list)   # subject -> (request id, at)
        self.completions: dict[str, float] = {}
        self.seconds_to_complete: dict[str, tuple[str, float]] = {}   # request id -> (type, seconds)
        self.lateness: dict[str, float] = {}   # retention command id -> seconds from deadline to command
        self.audit_actions: Counter[str] = Counter()
        self.commands: dict[str, dict[str, Any]] = {}
        self.command_copies: Counter[str] = Counter()
        self.acks: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)   # (command, store)
        self.export_parts: dict[str, Counter[str]] = defaultdict(Counter)   # request id -> source -> parts
        self.request_states: dict[str, dict[str, Any] | None] = {}

    def run(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="chaos-collector", group_id=None,
                                 enable_auto_commit=False, fetch_max_wait_ms=100, max_poll_records=5000)
        try:
            partitions = []
            for name in self.names.values():
                ids = consumer.partitions_for_topic(name)
                waited = time.monotonic() + 60
                while not ids and time.monotonic() < waited:
                    time.sleep(0.5)
                    ids = consumer.partitions_for_topic(name)
                if not ids:
                    raise RuntimeError(f"topic {name} does not exist")
                partitions += [TopicPartition(name, p) for p in sorted(ids)]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            # the embedded broker reports a log end short of the real one (BROKER-NOTES.md): once past
            # it, a one-time read goes on until three polls in a row come back empty
            end = consumer.end_offsets(partitions) if self.once else {}
            empty = 0
            while not self.stopping.is_set():
                batch = consumer.poll(timeout_ms=500 if self.once else 200)
                with self.lock:
                    for tp, records in batch.items():
                        what = self.canonical[tp.topic]
                        for record in records:
                            self.records += 1
                            self.seen.add((what, tp.partition, record.offset))
                            self._take(what, record)
                if self.once:
                    empty = 0 if batch else empty + 1
                    if empty >= 3 and all(consumer.position(tp) >= end[tp] for tp in partitions):
                        return
        except BaseException as exc:   # reported by the bench, which then fails
            self.error = exc
        finally:
            consumer.close()

    def _take(self, what: str, record: Any) -> None:
        if what == "requests-changelog":
            request_id = (record.key or b"").decode()
            self.request_states[request_id] = json.loads(record.value) if record.value is not None else None
            return
        if what == "dlq.v1":
            headers = {k: v.decode(errors="replace") for k, v in record.headers or []}
            try:
                source = (headers["source_topic"], int(headers["source_partition"]), int(headers["source_offset"]))
            except (KeyError, ValueError):
                source = ("?", -1, record.offset)
            self.dlq[source] += 1
            self.dlq_rules[headers.get("rule", "?")] += 1
            return
        try:
            value = json.loads(record.value or b"")
        except ValueError:
            if what in self.out_counts:
                self.unreadable_outputs += 1
            return
        if what in self.out_counts:
            event_id = str(value.get("event_id"))
            self.out_counts[what][event_id] += 1
            self.out_copies.append((what, event_id, record.key, record.timestamp / 1000))
        elif what == "privacy.audit.v1":
            self._audit(value)
        elif what == "lifecycle.commands.v1":
            self.commands.setdefault(value["command_id"], value)
            self.command_copies[value["command_id"]] += 1
        elif what == "lifecycle.acks.v1":
            self.acks[(value["command_id"], value["store"])].append((value["status"], int(value["rows_affected"])))
        elif what == "privacy.exports.v1":
            self.export_parts[value.get("request_id", "?")][value.get("source", "?")] += 1

    def _audit(self, audit: Mapping[str, Any]) -> None:
        action = audit.get("action") or "?"
        self.audit_actions[action] += 1
        details = audit.get("details") or {}
        subject = audit.get("subject") or ""
        if action == "gate":
            self.gates[(subject, details.get("output", "?"))][audit["audit_id"]] = int(details.get("records", 0))
        elif action == "shred":
            self.shreds[subject].append((audit.get("request_id") or "", epoch(audit["occurred_at"])))
        elif action == "completion" and audit.get("request_id"):
            self.completions.setdefault(audit["request_id"], epoch(audit["occurred_at"]))
            if "seconds_to_complete" in details:
                kind = (audit.get("rule") or "request.?").removeprefix("request.")
                self.seconds_to_complete.setdefault(audit["request_id"],
                                                    (kind, float(details["seconds_to_complete"])))
        elif action == "command" and not audit.get("request_id") and "lateness_seconds" in details:
            self.lateness.setdefault(details.get("command_id", ""), float(details["lateness_seconds"]))


# --- the invariants -----------------------------------------------------------------------------

def account_inputs(sent: Mapping[tuple[str, int, int], Sent], c: Collector, prefix: str) -> dict[str, Any]:
    """Where every input record went: outputs, DLQ, held back by a gate (per the audit), or missing."""
    missing: Counter[tuple[str, str]] = Counter()   # (subject, output name) -> records in neither place
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    result: dict[str, Any] = {"copies": Counter(), "dup_examples": [], "valid_in_dlq": 0, "invalid": 0,
                              "invalid_missing": 0, "anonymous_missing": 0, "outputs": 0}
    for (_, partition, offset), s in sent.items():
        in_dlq = c.dlq.get((prefix + s.topic, partition, offset), 0)
        if not s.valid:
            result["invalid"] += 1
            result["invalid_missing"] += in_dlq == 0
            result["copies"][in_dlq] += 1
            continue
        out = c.out_counts[OUTPUT_OF[s.topic]].get(s.event_id or "", 0)
        result["outputs"] += out > 0
        result["valid_in_dlq"] += in_dlq > 0
        copies = out + in_dlq
        result["copies"][copies] += 1
        if copies > 1 and len(result["dup_examples"]) < 5:
            result["dup_examples"].append(f"{s.topic} {s.event_id} ({copies} copies)")
        if copies == 0:
            if s.subject is None:
                result["anonymous_missing"] += 1
            else:
                missing[(s.subject, prefix + OUTPUT_OF[s.topic])] += 1
                where[(s.subject, prefix + OUTPUT_OF[s.topic])].append(f"{s.topic}[{partition}]@{offset} {s.event_id}")
    gated = unaccounted = 0
    unaccounted_examples = []
    for (subject, output), n in missing.items():
        covered = sum(c.gates.get((subject, output), {}).values())
        gated += min(n, covered)
        if n > covered:
            unaccounted += n - covered
            unaccounted_examples.append(f"{subject} -> {output}: {n} missing, gate audits cover {covered} "
                                        f"({', '.join(where[(subject, output)][:3])})")
    result.update(gated=gated, unaccounted=unaccounted, unaccounted_examples=unaccounted_examples[:8],
                  missing_subjects=len(missing))
    return result


def check_inputs(sent: Mapping[tuple[str, int, int], Sent], c: Collector, prefix: str,
                 refused: Iterable[str]) -> Verdict:
    a = account_inputs(sent, c, prefix)
    valid = len(sent) - a["invalid"]
    dups = sum(n for copies, n in a["copies"].items() if copies > 1)
    extra = sum((copies - 1) * n for copies, n in a["copies"].items() if copies > 1)
    refused = set(refused)
    gated_subjects = {s for (s, _), audits in c.gates.items() if audits}
    lines = [
        f"{len(sent):,} input records published: {valid:,} valid (orders + logs), {a['invalid']:,} malformed",
        f"valid: {a['outputs']:,} in their anonymized topic, {a['valid_in_dlq']} in the DLQ, "
        f"{a['gated']:,} held back by a gate (accounted by gate audit records), "
        f"{a['unaccounted'] + a['anonymous_missing']:,} missing",
        f"malformed: {a['invalid'] - a['invalid_missing']:,} in the DLQ ({dict(c.dlq_rules)} DLQ rules), "
        f"{a['invalid_missing']} missing",
        f"duplicates (at-least-once): {dups:,} records delivered more than once, {extra:,} extra copies"
        + (f"; e.g. {'; '.join(a['dup_examples'])}" if a["dup_examples"] else ""),
        f"copies per input record: {dict(sorted(a['copies'].items()))}",
        "rule for gated records: a record in neither its output nor the DLQ is accounted for only if its "
        "subject has gate audit records (privacy.audit.v1, action gate) for that output whose `records` "
        "counts, summed over distinct audit ids, reach the subject's number of such records; gate audits "
        f"are per batch, subject and output, not per record. Subjects with gate audits: {len(gated_subjects)} "
        f"(all of them refused analytics on consent.v1: {gated_subjects <= refused})",
    ]
    if a["unaccounted_examples"]:
        lines.append("unaccounted: " + "; ".join(a["unaccounted_examples"]))
    if a["anonymous_missing"]:
        lines.append(f"anonymous log events missing (never gated): {a['anonymous_missing']}")
    ids = {s.event_id for s in sent.values() if s.event_id}
    unknown = sum(1 for counts in c.out_counts.values() for e in counts if e not in ids)
    if unknown or c.unreadable_outputs:
        lines.append(f"output records of no published event: {unknown}; unreadable: {c.unreadable_outputs}")
    ok = (a["unaccounted"] == 0 and a["anonymous_missing"] == 0 and a["invalid_missing"] == 0 and unknown == 0
          and gated_subjects <= refused)
    return Verdict("every input record is in an anonymized topic or the DLQ (or held back by a gate)", ok, lines)


def expected_timers(sent: Iterable[Sent], rules: Mapping[str, tuple[str, tuple[str, ...], float]]
                    ) -> dict[tuple[str, str], float]:
    """(rule, record key) -> deadline, for every valid input under a rule: rule -> (family, on, seconds)."""
    timers: dict[tuple[str, str], float] = {}
    for s in sent:
        if not s.valid or s.record_key is None:
            continue
        for rule, (family, on, after) in rules.items():
            if family == FAMILY_OF[s.topic] and (not on or s.event_type in on):
                due = s.occurred + after
                timers[(rule, s.record_key)] = max(due, timers.get((rule, s.record_key), due))
    return timers


def retention_progress(timers: Mapping[tuple[str, str], float], c: Collector, stores: Iterable[str],
                       now: float) -> tuple[int, int, int]:
    """(deadlines due, of them with a command, of them acked applied/not_found by every store)."""
    by_timer = {(cmd["rule"], cmd["selector"]["record_key"]): cid for cid, cmd in c.commands.items()
                if cmd.get("cause") == "retention"}
    due = fired = acked = 0
    for timer, deadline in timers.items():
        if deadline > now:
            continue
        due += 1
        cid = by_timer.get(timer)
        if cid is None:
            continue
        fired += 1
        acked += all(any(st in DONE_ACKS for st, _ in c.acks.get((cid, store), ())) for store in stores)
    return due, fired, acked


def check_retention(timers: Mapping[tuple[str, str], float], c: Collector,
                    applied: Mapping[str, Mapping[str, tuple[str, int, int]]], now: float) -> Verdict:
    """``applied``: store -> command id -> (status, rows, rows with that id) from lethe_applied_commands."""
    fired: dict[tuple[str, str], set[str]] = defaultdict(set)
    wrong_due = []
    for cid, cmd in c.commands.items():
        if cmd.get("cause") != "retention":
            continue
        timer = (cmd["rule"], cmd["selector"]["record_key"])
        fired[timer].add(cid)
        if timer in timers and abs(epoch(cmd["due_at"]) - timers[timer]) > 0.01:
            wrong_due.append(f"{timer[0]}/{timer[1]}")
    expired = {t for t, due in timers.items() if due <= now}
    missing = sorted(expired - fired.keys())
    unexpected = sorted(set(fired) - set(timers))
    twice = sorted(t for t, ids in fired.items() if len(ids) > 1)
    lines = [f"{len(timers):,} deadlines set by the published records, {len(expired):,} expired before the check; "
             f"{sum(len(ids) for ids in fired.values()):,} retention commands fired (distinct ids), "
             f"{sum(c.command_copies[cid] - 1 for ids in fired.values() for cid in ids):,} extra copies on "
             f"lifecycle.commands.v1 (fired again after a crash, or re-sent)"]
    ok = not (missing or unexpected or twice or wrong_due)
    if missing:
        lines.append(f"expired deadlines without a command: {len(missing)} (e.g. {missing[:3]})")
    if unexpected or twice or wrong_due:
        lines.append(f"commands of no expected deadline: {len(unexpected)}; deadlines fired under two ids: "
                     f"{len(twice)}; commands with another deadline than expected: {len(wrong_due)}")
    ids = {cid for t in expired for cid in fired.get(t, ())}
    for store, table in applied.items():
        statuses: Counter[str] = Counter()
        absent, repeated, inconsistent, failed_acks, ack_copies = [], [], [], 0, 0
        for cid in ids:
            row = table.get(cid)
            acks = c.acks.get((cid, store), [])
            failed_acks += sum(st == "failed" for st, _ in acks)
            done = [(st, n) for st, n in acks if st in DONE_ACKS]
            ack_copies += max(len(done) - 1, 0)
            if row is None:
                absent.append(cid)
                continue
            statuses[row[0]] += 1
            if row[2] != 1:
                repeated.append(cid)
            if any((st, n) != (row[0], row[1]) for st, n in done) or not done:
                inconsistent.append(cid)
        ok = ok and not (absent or repeated or inconsistent)
        lines.append(f"store {store}: lethe_applied_commands holds {sum(statuses.values()):,} of the "
                     f"{len(ids):,} fired commands once each ({dict(statuses)}); absent {len(absent)}, "
                     f"recorded more than once {len(repeated)}; acks on lifecycle.acks.v1: {ack_copies:,} repeated "
                     f"(replays acked again), {len(inconsistent)} without an ack or disagreeing with the "
                     f"recorded result, {failed_acks} `failed` acks (retried until applied)")
    lines.append("evidence: each store's table lethe_applied_commands (one row per command id, written in the "
                 "transaction that applied it) for every expired deadline's command, matched to the deadline "
                 "by (rule, record key, due_at) on lifecycle.commands.v1; every ack of a replay must repeat "
                 "the recorded status and rows_affected (a second application would differ)")
    return Verdict("every expired deadline's command applied exactly once per store", ok, lines)


def check_requests(filed: Iterable[Filed], c: Collector, stores: list[str],
                   rows_left: Mapping[str, Mapping[str, int]],
                   applied: Mapping[str, Mapping[str, tuple[str, int, int]]]) -> Verdict:
    """``rows_left``: store -> request id -> rows of the erased subject dated before the request."""
    lines, ok = [], True
    filed_all = list(filed)
    by_type: dict[str, list[Filed]] = defaultdict(list)
    for f in filed_all:
        by_type[f.type].append(f)
    for kind, requests in sorted(by_type.items()):
        statuses: Counter[str] = Counter()
        bad = []
        for f in requests:
            state = c.request_states.get(f.request_id)
            status = state["status"] if state else "unknown"
            statuses[status] += 1
            if state is None or status != "completed":
                bad.append(f"{f.request_id}: {status}")
                continue
            missing_acks = [k for k in (f"{cid}|{s}" for cid in state["commands"] for s in stores)
                            if state["acks"].get(k) not in DONE_ACKS]
            unapplied = [(cid, s) for cid in state["commands"] for s in stores
                         if kind == "erase" and cid not in applied.get(s, {})]   # exports are not recorded there
            if missing_acks or unapplied or f.request_id not in c.completions:
                bad.append(f"{f.request_id}: completed, but acks missing {missing_acks}, not in "
                           f"lethe_applied_commands {unapplied}, completion audit "
                           f"{'present' if f.request_id in c.completions else 'absent'}")
            if kind == "erase":
                left = {s: rows_left.get(s, {}).get(f.request_id, 0) for s in stores}
                if any(left.values()):
                    bad.append(f"{f.request_id} ({f.subject}): rows left {left}")
                if not any(rid == f.request_id for rid, _ in c.shreds.get(f.subject, ())):
                    bad.append(f"{f.request_id}: no shred audit")
            if kind == "access":
                parts = c.export_parts.get(f.request_id, Counter())
                if any(parts.get(s, 0) < 1 for s in stores) or parts.get("lethe", 0) < 1:
                    bad.append(f"{f.request_id}: export parts {dict(parts)}")
        ok = ok and not bad
        lines.append(f"{kind}: {len(requests)} filed, status in the requests changelog {dict(statuses)}"
                     + (f"; PROBLEMS: {'; '.join(bad[:6])}" if bad else ""))
    erase = by_type.get("erase", [])
    resent = sum(c.command_copies[cid] - 1 for f in filed_all for cid in
                 (c.request_states.get(f.request_id) or {}).get("commands", {}) if c.command_copies[cid] > 1)
    lines.append(f"request commands sent again after [rights] ack_timeout: {resent:,} extra copies "
                 f"({c.audit_actions['retry']:,} retry audits)")
    lines.append(f"erasures: rows of the subject dated before the request left in "
                 f"{', '.join(stores)}: {sum(sum(v.values()) for v in rows_left.values())} (every store, both "
                 f"tables; a subject that came back after its erasure keeps only its new rows); acks of "
                 f"both families from every store; a shred audit for each of the {len(erase)} erasures")
    return Verdict("every erasure (and access request) completed, with zero rows left for the subject in every "
                   "store", ok, lines)


def check_pseudonyms(sent: Mapping[tuple[str, int, int], Sent], c: Collector, erasures: Iterable[Filed]) -> Verdict:
    subject_of = {s.event_id: s.subject for s in sent.values() if s.valid and s.subject}
    seen: dict[str, list[tuple[float, bytes]]] = defaultdict(list)
    for _, event_id, key, ts in c.out_copies:
        subject = subject_of.get(event_id)
        if subject is not None and key is not None:
            seen[subject].append((ts, key))
    erased = Counter(f.subject for f in erasures)
    shred_times = {s: sorted(at for _, at in v) for s, v in c.shreds.items()}
    counts: Counter[int] = Counter()
    too_many, unexplained, recurred = [], [], []
    for subject, copies in seen.items():
        first: dict[bytes, float] = {}
        for ts, key in sorted(copies):
            first.setdefault(key, ts)
        ordered = sorted(copies, key=lambda item: (item[0], first[item[1]]))
        counts[len(first)] += 1
        allowed = 1 + len({rid for rid, _ in c.shreds.get(subject, ())})
        if len(first) > allowed:
            too_many.append(f"{subject}: {len(first)} pseudonyms, {erased[subject]} erasure(s)")
        done: set[bytes] = set()
        shreds = shred_times.get(subject, [])
        for (t1, k1), (t2, k2) in itertools.pairwise(ordered):
            if k1 == k2:
                continue
            done.add(k1)
            if k2 in done:
                recurred.append(f"{subject}: an earlier pseudonym came back at {t2:.3f}")
            if not any(t1 <= at <= t2 + 0.001 for at in shreds):
                unexplained.append(f"{subject}: pseudonym changed between {t1:.3f} and {t2:.3f} with no shred "
                                   "audit in between")
    ok = not (too_many or unexplained or recurred)
    lines = [f"{len(seen):,} subjects in the outputs; subjects by number of pseudonyms: "
             f"{dict(sorted(counts.items()))}; {len(erased)} subjects erased ({sum(erased.values())} erasures)",
             "rule: output records are linked to their subject by event_id (the bench knows each event's "
             "customer_id), their pseudonym is the record key; in time order (the records' CreateTime) a "
             "subject's pseudonym may change only across one of its shred audit records "
             "(privacy.audit.v1, action shred, written when the erasure destroys the secret), it has at most "
             "1 + (its erasures) pseudonyms, and a pseudonym once replaced never comes back"]
    for label, found in (("more pseudonyms than erasures allow", too_many),
                         ("pseudonym changed without an erasure", unexplained), ("old pseudonym reappeared", recurred)):
        if found:
            lines.append(f"{label}: {len(found)}, e.g. {'; '.join(found[:4])}")
    return Verdict("no subject got a second pseudonym except after its erasure", ok, lines)
