"""Data-subject requests in the worker: erasure fan-out with completion tracking, restriction,
objection and quarantine gates, deadlines (policy sections 5 and 8; docs/rights.md).

``privacy-requests.v1`` and ``lifecycle.acks.v1`` are consumed by the ingest consumer, so a
request, its commands' acks and the subject's other state are on the same partition number and
the same worker (commands are published to the request's partition and store agents ack on the
command's partition). Each request's state is kept in the compacted topic
``<app id>-requests-changelog`` (key: request id), restored on assignment like the other state;
a request is written there before its input offset is committed, and every ack that changes it
before the ack's offset is committed. ``lethe request status ID`` reads the same topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from processors.consent import PURPOSES, ConsentEvent
from processors.errors import InvalidRecord
from processors.inputs import Inputs
from processors.rights import (
    OPEN,
    Request,
    Rights,
    erase_commands,
    export_commands,
    new_state,
    rectify_commands,
    request_audit,
    waiting_for,
    withdrawal_commands,
)
from processors.time import iso, parse_time
from streams.changelog import Outgoing, PartitionedState, chunked, dead_letter, publish_all
from streams.consent import ConsentStore, consent_audit
from streams.ingest import SecretStore
from streams.metrics import Metrics
from streams.retention import HoldStore, TimerStore
from streams.settings import Settings
from streams.topics import changelog_name

log = logging.getLogger(__name__)

GATING = {"restrict": "restrict", "object": "object", "minor_flag": "quarantine"}


def requests_topic(settings: Settings) -> str:
    return changelog_name(settings, "requests")


class RequestStore(PartitionedState):
    """The rights requests of the partitions this worker owns, and the gates they set."""

    what = "privacy requests"

    def __init__(self, bootstrap: str, topic: str, metrics: Metrics) -> None:
        super().__init__(bootstrap, topic)
        self.metrics = metrics
        self.partitions: dict[int, dict[str, dict[str, Any]]] = {}
        self.by_command: dict[str, tuple[int, str]] = {}
        self.gating: dict[str, dict[str, dict[str, Any]]] = {}   # subject -> its gating requests
        self.open: dict[str, int] = {}   # request id -> partition, of requests not yet completed or failed

    def load(self, partition: int, records: list[Any]) -> None:
        states = self.partitions.setdefault(partition, {})
        for record in records:
            request_id = record.key.decode()
            if record.value is None:
                gone = states.pop(request_id, None)
                self.open.pop(request_id, None)
                if gone is not None:
                    self.gating.get(gone["subject"], {}).pop(request_id, None)
            else:
                self._index(partition, states.setdefault(request_id, {}) | orjson.loads(record.value))

    def drop(self, partition: int) -> None:
        for state in self.partitions.pop(partition, {}).values():
            self.open.pop(state["request_id"], None)
            for command_id in state["commands"]:
                self.by_command.pop(command_id, None)
            gating = self.gating.get(state["subject"])
            if gating is not None:
                gating.pop(state["request_id"], None)
                if not gating:
                    del self.gating[state["subject"]]

    def _index(self, partition: int, state: dict[str, Any]) -> None:
        self.partitions.setdefault(partition, {})[state["request_id"]] = state
        for command_id in state["commands"]:
            self.by_command[command_id] = (partition, state["request_id"])
        if state["status"] in OPEN:   # the deadline loop and the gauges look at open requests only
            self.open[state["request_id"]] = partition
        else:
            self.open.pop(state["request_id"], None)
        if state["type"] in GATING:   # looked up for every input batch: by subject, not by scan
            gating = self.gating.setdefault(state["subject"], {})
            gating[state["request_id"]] = state

    def save(self, partition: int, state: dict[str, Any]) -> None:
        self._index(partition, state)
        self.stage(partition, state["request_id"].encode(), orjson.dumps(state))

    def find(self, request_id: str) -> dict[str, Any] | None:
        for states in self.partitions.values():
            if request_id in states:
                return states[request_id]
        return None

    def open_states(self) -> list[tuple[int, dict[str, Any]]]:
        return [(p, self.partitions[p][r]) for r, p in self.open.items()]

    def states(self) -> list[tuple[int, dict[str, Any]]]:
        return [(p, s) for p, states in self.partitions.items() for s in states.values()]

    def blocked(self, subjects: Mapping[str, int]) -> dict[str, dict[str, str]]:
        """Subjects in ``subjects`` whose records must not reach every output, and why."""
        gates: dict[str, dict[str, str]] = {}
        if not self.gating:
            return gates
        for subject in subjects:
            for state in self.gating.get(subject, {}).values():
                self._gate(gates, state)
        return gates

    @staticmethod
    def _gate(gates: dict[str, dict[str, str]], state: dict[str, Any]) -> None:
        reason = GATING[state["type"]]
        if state.get("lifted_at"):
            return
        outputs = state["outputs"] if state.get("outputs") is not None else ["*"]
        if outputs:
            target = gates.setdefault(state["subject"], {})
            for output in outputs:
                target.setdefault(output, reason)


class Requests:
    """Handles request events and acks; runs the deadline and retry loop."""

    def __init__(self, settings: Settings, rights: Rights, store: RequestStore, secrets: SecretStore,
                 producer: Callable[[], AIOKafkaProducer], metrics: Metrics,
                 output_purposes: Mapping[str, str], consent: ConsentStore | None = None,
                 timers: TimerStore | None = None, holds: HoldStore | None = None,
                 on_ack: Callable[[str, str, str], None] = lambda command_id, store, status: None,
                 clock: Callable[[], float] = time.time, *, inputs: Inputs) -> None:
        self.inputs = inputs   # decodes requests and acks (processors/inputs.py)
        self.on_ack = on_ack   # every ack, whatever caused its command (retention counts its own)
        self.rights, self.store, self.secrets, self.consent = rights, store, secrets, consent
        self.timers, self.holds = timers, holds
        self.producer, self.metrics, self.clock = producer, metrics, clock
        self.output_purposes = dict(output_purposes)   # output topic -> purpose, for objections
        self.requests_topic = settings.topics.name("privacy-requests.v1")
        self.commands_topic = settings.topics.name("lifecycle.commands.v1")
        self.audit_topic = settings.topics.name("privacy.audit.v1")
        self.exports_topic = settings.topics.name("privacy.exports.v1")
        self.dlq_topic = settings.topics.dlq
        self.topic_name = settings.topics.name
        self._reported: set[tuple[str, str]] = set()

    # -- request events ---------------------------------------------------------------------
    async def handle_requests(self, messages: Sequence[Any]) -> None:
        now = self.clock()
        out: list[Outgoing] = []
        shredded = False
        for message in messages:
            mine: list[Outgoing] = []
            try:
                shredded |= self._accept(message, now, mine)
            except InvalidRecord as exc:
                mine = [dead_letter(self.dlq_topic, message, exc)]
                self.metrics.records_dead.labels(message.topic, exc.rule).inc()
            except Exception as exc:   # a bug, not bad input: this request only goes to the DLQ
                log.error("request at %s[%d]@%d failed (%s); sent to the DLQ", message.topic, message.partition,
                          message.offset, type(exc).__name__)
                mine = [dead_letter(self.dlq_topic, message,
                                    InvalidRecord("internal", f"internal error ({type(exc).__name__})"))]
                self.metrics.records_dead.labels(message.topic, "internal").inc()
            out += mine
        await self._send(out)
        if shredded:
            await self.secrets.flush()
        if self.consent is not None:
            await self.consent.flush()
        await self.store.flush()
        self.report()

    def _accept(self, message: Any, now: float, out: list[Outgoing]) -> bool:
        """Act on one request; True if it destroyed a secret. InvalidRecord if it is not a request."""
        request = self.inputs.request(message.value)
        if self.store.find(request.request_id) is not None:
            return False   # a replay of a request already accepted
        state = new_state(request, self.rights, now)
        partition = message.partition
        audits = [request_audit(state, "request_received", now, "received", {"channel": request.channel})]
        shredded = False
        if request.type in ("erase", "minor_flag"):
            if request.type == "minor_flag":   # at once, hold or not: quarantine deletes nothing
                state["outputs"] = ["*"]
                audits.append(request_audit(state, "quarantine", now, "quarantine", {"outputs": "all"}))
            holds = self._holds_on(request.subject)
            if holds:   # a legal hold suspends the erasure until it is released (policy 3.1)
                state["status"], state["suspended_by"] = "in_progress", sorted(h.hold_id for h in holds)
                audits.append(request_audit(state, "suspended", now, "suspended",
                                            {"hold_ids": ",".join(state["suspended_by"])}))
            else:
                shredded = True
                self._erase(request, state, partition, now, out, audits)
        elif request.type in ("restrict", "object"):
            self._gate(request, state, now, audits)
        elif request.type == "rectify":
            self._rectify(request, state, partition, now, out, audits)
        elif request.type in ("access", "portability"):
            self._export(request, state, partition, now, out, audits)
        elif request.type == "withdraw_consent" and self.consent is not None:
            self._withdraw(request, state, partition, now, out, audits)
        else:
            state["status"] = "failed"
            self.metrics.requests_failed.labels(request.type).inc()
            state["reason"] = f"request type {request.type} is not handled by this version of Lethe"
            audits.append(request_audit(state, "request_failed", now, "failed", {"reason": state["reason"]}))
        self.store.save(partition, state)
        self.metrics.requests_received.labels(request.type).inc()
        for audit in audits:
            out.append((self.audit_topic, orjson.dumps(audit), request.subject.encode(), partition, None))
        return shredded

    def _erase(self, request: Request, state: dict[str, Any], partition: int, now: float,
               out: list[Any], audits: list[dict[str, Any]]) -> None:
        commands = erase_commands(request, now, parse_time(state["due_at"]))
        state["commands"] = {c["command_id"]: c["selector"]["family"] for c in commands}
        state["status"], state["sent_at"] = "in_progress", iso(now)
        for command in commands:
            out.append((self.commands_topic, orjson.dumps(command), request.subject.encode(), partition, None))
            audits.append(request_audit(state, "command", now, command["command_id"], {
                "command_id": command["command_id"], "command_action": "delete",
                "family": command["selector"]["family"], "stores": ",".join(state["stores"])}))
            self.metrics.commands_emitted.labels("delete", "request").inc()
        if self.consent is not None:
            self.consent.erase(partition, request.subject)
        held = self.secrets.shred(partition, request.subject)
        audits.append(request_audit(state, "shred", now, "shred",
                                    {"secret": "destroyed" if held else "none held by this worker",
                                     "effect": "earlier pseudonyms of the subject can no longer be linked"}))

    def _holds_on(self, subject: str) -> list[Any]:
        if self.holds is None:
            return []
        return [h for holds in self.holds.partitions.values() for h in holds.for_subject(subject)]

    async def resume(self, subject: str) -> None:
        """After a hold's release: carry out the subject's erasures it suspended, if no hold is left."""
        if self._holds_on(subject):
            return
        now = self.clock()
        out: list[Outgoing] = []
        for partition, state in self.store.open_states():
            if state["subject"] != subject or not state.get("suspended_by"):
                continue
            audits = [request_audit(state, "resumed", now, "resumed", {"hold_ids": ",".join(state["suspended_by"])})]
            state["suspended_by"] = None
            request = Request(state["request_id"], state["type"], subject, state["received_at"], state["channel"], {})
            self._erase(request, state, partition, now, out, audits)
            self.store.save(partition, state)
            out += [(self.audit_topic, orjson.dumps(a), subject.encode(), partition, None) for a in audits]
        if out:
            await self._send(out)
            await self.secrets.flush()
            if self.consent is not None:
                await self.consent.flush()
            await self.store.flush()

    def _rectify(self, request: Request, state: dict[str, Any], partition: int, now: float,
                 out: list[Any], audits: list[dict[str, Any]]) -> None:
        commands = rectify_commands(request, now, parse_time(state["due_at"]))
        if not commands:
            state["status"] = "failed"
            self.metrics.requests_failed.labels(request.type).inc()
            state["reason"] = "rectify needs details naming the new values (category or column = value)"
            audits.append(request_audit(state, "request_failed", now, "failed", {"reason": state["reason"]}))
            return
        state["commands"] = {c["command_id"]: c["selector"]["family"] for c in commands}
        state["status"], state["sent_at"] = "in_progress", iso(now)
        fields = ",".join(sorted(commands[0]["updates"]))   # names only: the values are personal data
        for command in commands:
            out.append((self.commands_topic, orjson.dumps(command), request.subject.encode(), partition, None))
            audits.append(request_audit(state, "command", now, command["command_id"], {
                "command_id": command["command_id"], "command_action": "update",
                "family": command["selector"]["family"], "fields": fields}))
            self.metrics.commands_emitted.labels("update", "request").inc()

    def _export(self, request: Request, state: dict[str, Any], partition: int, now: float,
                out: list[Any], audits: list[dict[str, Any]]) -> None:
        """Ask every store for the subject's rows; publish Lethe's own part now."""
        commands = export_commands(request, now, parse_time(state["due_at"]))
        state["commands"] = {c["command_id"]: c["selector"]["family"] for c in commands}
        state["status"], state["sent_at"] = "in_progress", iso(now)
        for command in commands:
            out.append((self.commands_topic, orjson.dumps(command), request.subject.encode(), partition, None))
            self.metrics.commands_emitted.labels("export", "request").inc()
        document: dict[str, Any] = {
            "consent": self.consent.state_of(request.subject) if self.consent is not None else None,
            "legal_holds": [{"hold_id": h.hold_id, "order_id": h.order_id, "case_ref": h.case_ref,
                             "placed_at": h.occurred_at}
                            for holds in (self.holds.partitions.values() if self.holds else ())
                            for h in holds.for_subject(request.subject)],
            # the subject's partition only (a scan of its timers: see docs/rights.md)
            "pending_deadlines": self.timers.for_subject(request.subject, partition) if self.timers else [],
            "requests": [{k: other[k] for k in ("request_id", "type", "status", "received_at", "due_at",
                                                "completed_at")}
                         for _, other in self.store.states() if other["subject"] == request.subject],
        }
        # the deadlines can be many: chunks of about 256 KB, the rest of the document with the first
        pending: list[Any] = document.pop("pending_deadlines")
        deadlines = chunked(pending, lambda d: len(orjson.dumps(d)))
        for n, piece in enumerate(deadlines):
            content = {**(document if n == 0 else {}), "pending_deadlines": piece}
            part = {"request_id": request.request_id, "subject": request.subject, "source": "lethe", "family": None,
                    "created_at": iso(now), "document": orjson.dumps(content).decode(), "chunk": n,
                    "chunks": len(deadlines)}
            out.append((self.exports_topic, orjson.dumps(part), request.subject.encode(), partition, None))
        state["export"] = {"parts": 1 + len(commands) * len(state["stores"])}
        audits.append(request_audit(state, "export_requested", now, "export_requested", {
            "parts_expected": str(state["export"]["parts"]), "stores": ",".join(state["stores"])}))

    def _withdraw(self, request: Request, state: dict[str, Any], partition: int, now: float,
                  out: list[Any], audits: list[dict[str, Any]]) -> None:
        """As a refusal on consent.v1, plus anonymizing what was collected only on that consent."""
        assert self.consent is not None
        purpose = request.details.get("purpose")
        if purpose not in PURPOSES:
            state["status"] = "failed"
            self.metrics.requests_failed.labels(request.type).inc()
            state["reason"] = f"withdraw_consent needs details.purpose, one of {', '.join(PURPOSES)}"
            audits.append(request_audit(state, "request_failed", now, "failed", {"reason": state["reason"]}))
            return
        event = ConsentEvent(f"{request.request_id}:withdrawal", request.occurred_at, request.subject, purpose,
                             False, self.consent.version, "support" if request.channel != "api" else "api")
        current = self.consent.record(partition, event)
        self.metrics.consent_decisions.labels(purpose, "refused").inc()
        audits.append(consent_audit(event, now, current, cause=request.request_id))
        categories = self.consent.policy.collected.get(purpose, ())
        if not categories:
            state["status"], state["completed_at"] = "completed", iso(now)
            audits.append(request_audit(state, "completion", now, "completed",
                                        {"note": "nothing is collected only on this consent"}))
            return
        state["purpose"] = purpose
        commands = withdrawal_commands(request, purpose, categories, now, parse_time(state["due_at"]))
        state["commands"] = {c["command_id"]: c["selector"]["family"] for c in commands}
        state["status"], state["sent_at"] = "in_progress", iso(now)
        for command in commands:
            out.append((self.commands_topic, orjson.dumps(command), request.subject.encode(), partition, None))
            audits.append(request_audit(state, "command", now, command["command_id"], {
                "command_id": command["command_id"], "command_action": "anonymize",
                "family": command["selector"]["family"], "categories": ",".join(categories)}))
            self.metrics.commands_emitted.labels("anonymize", "request").inc()

    def _gate(self, request: Request, state: dict[str, Any], now: float, audits: list[dict[str, Any]]) -> None:
        """restrict: no output; object: the outputs of the purpose objected to (all if none named).

        ``details.action = "lift"`` lifts the subject's earlier requests of the same type.
        """
        if request.details.get("action") == "lift":
            lifted = 0
            for _, other in self.store.states():
                if (other["subject"] == request.subject and other["type"] == request.type
                        and not other.get("lifted_at") and other is not state):
                    other["lifted_at"] = iso(now)
                    self.store.save(self._partition_of(other), other)
                    lifted += 1
            state["outputs"] = []   # the lift itself gates nothing
            state["status"], state["completed_at"] = "completed", iso(now)
            audits.append(request_audit(state, "gate_lifted", now, "lifted", {"requests_lifted": str(lifted)}))
            return
        purpose = request.details.get("purpose")
        if request.type == "object" and purpose:
            outputs = [o for o, p in self.output_purposes.items() if p == purpose]
            if not outputs:   # nothing would change: say so rather than complete silently
                state["status"] = "failed"
                self.metrics.requests_failed.labels(request.type).inc()
                known = ", ".join(sorted(set(self.output_purposes.values())))
                state["reason"] = f"no output serves that purpose (the outputs' purposes: {known})"
                audits.append(request_audit(state, "request_failed", now, "failed", {"reason": state["reason"]}))
                return
        else:
            outputs = ["*"]
        state["outputs"] = outputs
        state["status"], state["completed_at"] = "completed", iso(now)
        audits.append(request_audit(state, "gate", now, "gate", {
            "outputs": ",".join(self.topic_name(o) for o in outputs) if outputs != ["*"] else "all",
            "reason": GATING[request.type]}))

    def _commands_of(self, state: dict[str, Any], now: float) -> list[dict[str, Any]]:
        request = Request(state["request_id"], state["type"], state["subject"], state["received_at"],
                          state["channel"], {})
        due = parse_time(state["due_at"])
        if state["type"] == "withdraw_consent" and self.consent is not None:
            purpose = state.get("purpose") or ""
            return withdrawal_commands(request, purpose, self.consent.policy.collected.get(purpose, ()), now, due)
        if state["type"] in ("access", "portability"):
            return export_commands(request, now, due)
        if state["type"] == "rectify":
            return []   # the new values are not kept in the state: a retry cannot rebuild them
        return erase_commands(request, now, due)

    def _partition_of(self, state: dict[str, Any]) -> int:
        for partition, states in self.store.partitions.items():
            if states.get(state["request_id"]) is state:
                return partition
        raise KeyError(state["request_id"])

    # -- acks ------------------------------------------------------------------------------
    async def handle_acks(self, messages: Sequence[Any]) -> None:
        now = self.clock()
        out: list[Any] = []
        for message in messages:
            try:
                ack = self.inputs.ack(message.value)
            except InvalidRecord as exc:
                out.append(dead_letter(self.dlq_topic, message, exc))
                self.metrics.records_dead.labels(message.topic, exc.rule).inc()
                continue
            command_id, store, status = ack["command_id"], ack["store"], ack["status"]
            self.on_ack(command_id, store, status)
            found = self.store.by_command.get(command_id)
            if found is None:
                continue   # a retention command, or a request of another worker
            partition, request_id = found
            state = self.store.partitions.get(partition, {}).get(request_id)
            if state is None:
                continue
            key = f"{command_id}|{store}"
            if state["acks"].get(key) == status:
                continue   # a replayed ack
            state["acks"][key] = status
            out.append(self._audit_out(state, partition, request_audit(
                state, "ack", now, f"ack:{key}:{status}", {"command_id": command_id, "store": store,
                                                          "ack_status": status,
                                                          "rows_affected": str(ack["rows_affected"])})))
            if state["status"] in OPEN and not waiting_for(state):
                state["status"], state["completed_at"] = "completed", iso(now)
                took = now - parse_time(state["received_at"])
                if state["type"] in ("erase", "minor_flag"):
                    self.metrics.erasure_seconds.observe(max(took, 0.0))
                out.append(self._audit_out(state, partition, request_audit(
                    state, "completion", now, "completed", {"seconds_to_complete": f"{took:.3f}"})))
                if state["type"] in ("access", "portability"):
                    out.append(self._audit_out(state, partition, request_audit(
                        state, "export_ready", now, "export_ready", {
                            "parts": str(state["export"]["parts"]),
                            "write_with": f"lethe request export {state['request_id']} --out DIR"})))
            self.store.save(partition, state)
        await self._send(out)
        await self.store.flush()
        self.report()

    # -- deadlines and retries ------------------------------------------------------------------
    async def tick(self) -> None:
        now = self.clock()
        out: list[Any] = []
        for partition, state in self.store.open_states():
            if state["status"] not in OPEN:
                continue
            changed = False
            if state["status"] != "overdue" and now > parse_time(state["due_at"]):
                state["status"] = "overdue"
                changed = True
                out.append(self._audit_out(state, partition, request_audit(state, "overdue", now, "overdue")))
            missing = waiting_for(state)
            sent = state.get("sent_at")
            if missing and sent and now - parse_time(sent) > self.rights.ack_timeout_s:
                state["retries"] += 1
                state["sent_at"] = iso(now)
                changed = True
                commands = {c for c, _ in missing}
                for command in self._commands_of(state, now):
                    if command["command_id"] in commands:
                        out.append((self.commands_topic, orjson.dumps(command), state["subject"].encode(),
                                    partition, None))
                stores = sorted({s for _, s in missing})
                self.metrics.request_retries.labels(state["type"]).inc()
                log.warning("request %s: no ack from %s within %.0fs; commands sent again (retry %d)",
                            state["request_id"], ", ".join(stores), self.rights.ack_timeout_s, state["retries"])
                out.append(self._audit_out(state, partition, request_audit(
                    state, "retry", now, f"retry:{state['retries']}", {"waiting_for": ",".join(stores),
                                                                        "retry": str(state["retries"])})))
            if changed:
                self.store.save(partition, state)
        if out:
            await self._send(out)
            await self.store.flush()
        self.report()

    def report(self) -> None:
        now = self.clock()
        counts: dict[tuple[str, str], int] = {}
        oldest = 0.0
        overdue = 0
        for _, state in self.store.open_states():
            if state["status"] in OPEN:
                counts[(state["type"], state["status"])] = counts.get((state["type"], state["status"]), 0) + 1
                oldest = max(oldest, now - parse_time(state["received_at"]))
                overdue += state["status"] == "overdue"
        gauge = self.metrics.requests_open
        for labels in list(self._reported):
            if labels not in counts:
                gauge.labels(*labels).set(0)
        for labels, count in counts.items():
            gauge.labels(*labels).set(count)
        self._reported = set(counts) | self._reported
        self.metrics.requests_overdue.set(overdue)
        self.metrics.request_oldest_open.set(oldest)

    def _audit_out(self, state: dict[str, Any], partition: int, audit: dict[str, Any]) -> Any:
        return (self.audit_topic, orjson.dumps(audit), state["subject"].encode(), partition, None)

    async def _send(self, out: list[Any]) -> None:
        await publish_all(self.producer, out, "request commands and audit records")


def read_request_state(bootstrap: str, settings: Settings, request_id: str) -> dict[str, Any] | None:
    """The latest state of a request, read from the requests changelog (for ``lethe request status``)."""
    from streams.client import read

    key = request_id.encode()
    state = None
    for record in read(bootstrap, [requests_topic(settings)], timeout=30, idle=1.0):
        if record.key == key:
            state = orjson.loads(record.value) if record.value is not None else None
    return state
