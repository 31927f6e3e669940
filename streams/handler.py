"""One batch of input records: process it, produce every result, and only then let it be committed.

Nothing on input can crash the worker: a record that makes the processors fail unexpectedly goes
to the DLQ (rule ``internal``) like any invalid record. Producing is retried with backoff until
the broker takes every record, so a batch is never acked half-delivered (at-least-once).

A handler first processes its topic's records (:meth:`stage`: in memory, no I/O) and leaves three
writes, which :func:`write_staged` makes for every topic of an input batch together, step by step:
the state the outputs rely on, then the outputs, then the state that marks the batch as carried
out. Each step is one broker round trip for the whole input batch, not one per topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import orjson

from processors.errors import InvalidRecord, RegistryUnavailable
from processors.minors import minor_found
from processors.pipeline import BatchResult, TopicPipeline
from processors.records import audit_record, transfer_audit
from streams.dlq import DeadLetters
from streams.exceptions import RecordTooLarge
from streams.metrics import Metrics
from streams.outputs import Outgoing, publish_all, retrying
from streams.producer import Deliveries, Producer

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DLQ_TRUNCATE_BYTES = 900_000


Write = Callable[[], Awaitable[None]]   # one of a staged batch's writes


async def no_write() -> None:
    """A step with nothing to write."""


@dataclass(frozen=True)
class Staged:
    """One topic's processed batch and what is left to write, in the order the guarantees need.

    ``before``: the state its outputs rely on (new subject secrets, deadlines, the sharing ledger,
    shredded secrets, consent), so that a crash after an output never loses what the output used.
    ``send``: the outputs, audit records, commands and dead letters, retried until the broker has
    them all. ``after``: what records the batch as carried out (a request's state: a replayed request
    or ack that it already holds is skipped, so it is written only once the outputs are out), and
    the batch's metrics. The input offsets are committed after all three.
    """

    before: Write = no_write
    send: Write = no_write
    after: Write = no_write


async def write_staged(staged: Sequence[Staged]) -> None:
    """Write the staged batches of an input batch's topics: every ``before`` at once, then every
    ``send`` at once, then each ``after`` in turn (a released hold's resumed erasures send and write
    their own state there, which must not overlap another topic's request states)."""
    await asyncio.gather(*(s.before() for s in staged))
    await asyncio.gather(*(s.send() for s in staged))
    for s in staged:
        await s.after()


class BatchState(Protocol):
    """What a batch handler needs of the worker's per-subject state: one object, handed in once.

    :class:`processors.pipeline.SubjectView` for the processors, plus keeping what a batch
    created (new secrets, deadlines) and making it durable before the batch is acked.
    """

    def secret(self, subject: str, partition: int) -> bytes | None: ...
    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None: ...
    def absorb(self, result: BatchResult) -> bool: ...
    async def flush(self) -> None: ...


def gate_audits(result: BatchResult, messages: Sequence[Any], names: Mapping[str, str],
                now: float) -> list[dict[str, Any]]:
    """One audit record per subject, output and reason of a batch's gated records."""
    first = messages[0]
    return [audit_record("gate", subject, now, f"{first.topic}:{first.partition}:{first.offset}:{subject}:{output}",
                         rule=f"gate.{reason}", details={"output": names[output], "reason": reason,
                                                         "records": str(count), "source_topic": first.topic})
            for (output, reason, subject), count in result.gated.items()]


def transfer_audits(result: BatchResult, messages: Sequence[Any], names: Mapping[str, str], pipeline: TopicPipeline,
                    now: float) -> list[dict[str, Any]]:
    """One audit record per subject, output and decision of a batch's blocked or pseudonymized transfers."""
    first, transfers = messages[0], pipeline.transfers
    assert transfers is not None
    return [transfer_audit(subject, now, f"{first.topic}:{first.partition}:{first.offset}:{subject or ''}",
                           output=names[output], origin=origin, destination=destination, decision=decision,
                           safeguard=transfers.decide(origin, destination)[1], records=count,
                           source_topic=first.topic)
            for (output, origin, destination, decision, subject), count in result.transfer_held.items()]


def unknown_audits(result: BatchResult, messages: Sequence[Any], now: float) -> list[dict[str, Any]]:
    """One audit record per field path of the batch, not in the schema, where personal data was found."""
    first = messages[0]
    return [audit_record("unknown_field", None, now, f"{first.topic}:{first.partition}:{first.offset}:{path}",
                         rule="schema.unknown_field",
                         details={"source_topic": first.topic, "path": path, "categories": ",".join(sorted(found)),
                                  "records": str(result.unknown.counts[path]),
                                  "effect": "dropped from every output; declare it in the schema to tag it"})
            for path, found in sorted(result.unknown.personal.items())]


async def waiting_for_registry(what: str, metrics: Metrics, topic: str, call: Callable[[], R],
                               in_thread: bool = False) -> R:
    """``call()``, retried with backoff while it raises RegistryUnavailable (each time counted for ``topic``);
    ``in_thread``: in a thread of its own, the event loop serving the batch in flight meanwhile."""
    async def step() -> R:
        try:
            return await asyncio.to_thread(call) if in_thread else call()
        except RegistryUnavailable:
            metrics.registry_unavailable.labels(topic).inc()
            raise
    return await retrying(f"{what} (schema registry)", step, errors=(RegistryUnavailable,))


class BatchHandler:
    """One input topic's batches: into ``processors`` once, then state, outputs, metrics.

    ``state`` gives the batch its subjects' secrets and gates and keeps what the batch creates;
    the batch is handed back to the consumer (and committed) only once all of it is durable.
    """

    def __init__(self, pipeline: TopicPipeline, topic: str, dead_letters: DeadLetters, metrics: Metrics,
                 state: BatchState,
                 producer: Callable[[], Producer], topic_name: Callable[[str], str],
                 audit_topic: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.state, self.audit_topic, self.clock = state, audit_topic, clock
        self.pipeline, self.topic, self.dead_letters = pipeline, topic, dead_letters
        # outputs are named by the policy's canonical topics; a deployment may prefix them
        self.names = {plan.output: topic_name(plan.output) for plan in pipeline.plans}
        # series exist from start-up at 0, so that rate() and increase() see the first records
        metrics.records_in.labels(topic)
        for name in self.names.values():
            metrics.records_out.labels(name)
        for n, route in enumerate(pipeline.routes or ()):
            plan = pipeline.plans[n]
            for origin, use in route.items():
                decision = "allow" if use is plan else "block" if use is None else "pseudonymize"
                metrics.transfers.labels(self.names[plan.output], origin, pipeline.destinations[n], decision)
        if pipeline.minors is not None:
            metrics.minors_found.labels(topic)
        self.requests_topic = topic_name("privacy-requests.v1")   # where the minors rule files its requests
        self.metrics, self.producer = metrics, producer
        self.positions: dict[int, int] = {}

    async def handle(self, messages: Sequence[Any]) -> None:
        await write_staged([await self.stage(messages)])

    async def stage(self, messages: Sequence[Any], in_thread: bool = False) -> Staged:
        """Process the batch (``in_thread``: off the event loop, while the previous batch's writes are in
        flight: streams/ingest.py) and return what it leaves to write."""
        started = time.perf_counter()
        result, changed = await self.process_waiting(messages, in_thread)
        if result.dead:   # a dead letter is sealed with its subject's secret: one it may not have yet
            changed |= self.dead_letters.prepare(messages[index] for index, _ in result.dead)

        async def before() -> None:
            if changed:
                # new subject secrets must be in their changelog before any output or dead letter uses
                # them and the batch is acked, or a crash now would re-key these subjects after recovery;
                # new deadlines before the batch is acked, or a crash now would lose them
                await retrying(f"writing the state of a batch from {self.topic}", self.state.flush)

        async def send() -> None:
            await retrying(f"producing a batch from {self.topic}", lambda: self.produce(result, messages))

        async def after() -> None:
            self.observe(result, messages, started)

        return Staged(before, send, after)

    async def process_waiting(self, messages: Sequence[Any], in_thread: bool = False) -> tuple[BatchResult, bool]:
        """:meth:`process`, waiting while the schema registry does not answer (nothing is dead-lettered
        for it: the batch is decoded again once the registry is back)."""
        return await waiting_for_registry(f"decoding a batch from {self.topic}", self.metrics, self.topic,
                                          lambda: self.process(messages), in_thread)

    def process(self, messages: Sequence[Any]) -> tuple[BatchResult, bool]:
        """The batch's result and whether it changed state to flush; a bug costs only its record."""
        pipeline, state = self.pipeline, self.state
        try:
            result = pipeline.process([m.value for m in messages], [m.partition for m in messages], state)
            return result, state.absorb(result)
        except RegistryUnavailable:
            raise   # not a bug: the batch waits for the registry
        except Exception as exc:  # a bug, not bad input: isolate the record that triggers it
            log.error("batch from %s failed in processing (%s); retrying record by record",
                      self.topic, type(exc).__name__)
        result = BatchResult()
        changed = False
        for index, message in enumerate(messages):
            try:
                one = pipeline.process([message.value], [message.partition], state)
            except RegistryUnavailable:
                raise
            except Exception as exc:
                log.error("record %s[%d]@%d failed in processing (%s); sent to the DLQ",
                          message.topic, message.partition, message.offset, type(exc).__name__)
                reason = f"internal error while processing ({type(exc).__name__})"
                result.dead.append((index, InvalidRecord("internal", reason)))
                continue
            changed |= state.absorb(one)   # at once: the next record of a new subject finds its secret
            result.merge(one, index)
        return result, changed

    async def produce(self, result: BatchResult, messages: Sequence[Any]) -> None:
        batch = self.producer().batch()
        names = self.names
        for out in list(result.outputs):
            try:
                batch.send(names[out.topic], out.value, out.key)
            except RecordTooLarge:   # the anonymized copy outgrew what may be sent
                result.outputs.remove(out)
                result.dead.append((out.index, InvalidRecord("max_size", "anonymized record too large to produce")))
        for index, exc in result.dead:
            message = messages[index]
            topic, value, key, _, headers = self.dead_letters.letter(message, exc)
            try:
                batch.send(topic, value, key, None, headers, tag=(message, exc))
            except RecordTooLarge:   # larger than this producer may send
                self._send_truncated(batch, message, exc)
        if (result.gated or result.transfer_held or result.unknown.personal) and self.audit_topic is not None:
            now = self.clock()
            audits = gate_audits(result, messages, self.names, now) + unknown_audits(result, messages, now)
            if result.transfer_held:
                audits += transfer_audits(result, messages, self.names, self.pipeline, now)
            for audit in audits:
                batch.send(self.audit_topic, orjson.dumps(audit), (audit["subject"] or "").encode())
        for partition, subject in result.minors:   # a minor_flag request each, on the subject's partition
            assert self.pipeline.minors is not None
            request, audit = minor_found(subject, self.topic, self.pipeline.minors.age, self.clock())
            batch.send(self.requests_topic, orjson.dumps(request), subject.encode(), partition)
            if self.audit_topic is not None:
                batch.send(self.audit_topic, orjson.dumps(audit), subject.encode())
        refused = await batch.delivered()   # a failure of anything but a dead letter raises here
        if refused:
            again = self.producer().batch()
            for (message, exc), error in refused:
                if not isinstance(error, RecordTooLarge):
                    raise error
                self._send_truncated(again, message, exc)   # larger than the broker takes
            await again.delivered()

    def _send_truncated(self, batch: Deliveries, message: Any, exc: InvalidRecord) -> None:
        """Dead-letter the head of a record too large for the broker, saying how long it was."""
        note = [("truncated_from_bytes", str(len(message.value)).encode())]
        topic, value, key, _, headers = self.dead_letters.letter(message, exc, message.value[:DLQ_TRUNCATE_BYTES],
                                                                 note)
        batch.send(topic, value, key, None, headers)

    def observe(self, result: BatchResult, messages: Sequence[Any], started: float) -> None:
        m, topic = self.metrics, self.topic
        done = time.perf_counter()
        m.records_in.labels(topic).inc(len(messages))
        m.batch_seconds.labels(topic).observe(done - started)
        m.batch_size.labels(topic).observe(len(messages))
        outs: dict[str, int] = {}
        for out in result.outputs:
            outs[out.topic] = outs.get(out.topic, 0) + 1
        for name, count in outs.items():
            m.records_out.labels(self.names[name]).inc(count)
        for _, exc in result.dead:
            m.records_dead.labels(topic, exc.rule).inc()
        if result.unscheduled:
            m.timers_unscheduled.labels(self.pipeline.family).inc(result.unscheduled)
        for category, count in result.tagged.items():
            m.fields_tagged.labels(category).inc(count)
        for (output, reason, _), count in result.gated.items():
            m.records_gated.labels(self.names[output], reason).inc(count)
        if result.minors:
            m.minors_found.labels(topic).inc(len(result.minors))
        for path, count in result.unknown.counts.items():
            m.unknown_fields.labels(topic, path).inc(count)
        for path, categories in result.unknown.personal.items():
            for category in categories:
                m.unknown_personal.labels(topic, path, category).inc()
        for (output, origin, destination, decision), count in result.transfers.items():
            m.transfers.labels(self.names[output], origin, destination, decision).inc(count)
        now_ms = time.time() * 1000
        latency = m.event_latency.labels(topic)
        for message in messages[:: max(len(messages) // 50, 1)]:   # a sample per batch is enough
            if message.timestamp:
                latency.observe(max(now_ms - message.timestamp, 0) / 1000)
        positions = self.positions
        for message in messages:
            positions[message.partition] = message.offset + 1


class InputHandler(Generic[T]):
    """A state-bearing input topic (consent, legal holds, requests, acks), one record at a time.

    Each record is decoded through the schemas (``decode``: processors/inputs.py) and handed to
    ``act``, which changes the worker's state and returns what to publish; a record that does not
    decode goes to the DLQ with the same headers as orders and logs, and one that makes ``act``
    fail unexpectedly goes there with rule ``internal`` (a bug costs that record only). Once the
    broker has everything, ``finish`` makes the batch's state changes durable; only then is the
    batch committed. ``before`` writes the state the published records rely on before they go out
    (``Staged``).
    """

    def __init__(self, topic: str, dead_letters: DeadLetters, metrics: Metrics,
                 producer: Callable[[], Producer],
                 decode: Callable[[bytes | None], T], act: Callable[[Any, T, float], list[Outgoing]],
                 finish: Write, clock: Callable[[], float], what: str, before: Write = no_write) -> None:
        self.topic, self.dead_letters, self.metrics, self.producer = topic, dead_letters, metrics, producer
        self.decode, self.act, self.finish, self.clock, self.what = decode, act, finish, clock, what
        self.before = before
        self.positions: dict[int, int] = {}
        metrics.records_in.labels(topic)

    async def decode_waiting(self, raw: bytes | None) -> T:
        """``decode``, waiting while the schema registry does not answer (the record is not dead-lettered)."""
        return await waiting_for_registry(f"decoding a record from {self.topic}", self.metrics, self.topic,
                                          lambda: self.decode(raw))

    async def handle(self, messages: Sequence[Any]) -> None:
        await write_staged([await self.stage(messages)])

    async def stage(self, messages: Sequence[Any]) -> Staged:
        now = self.clock()
        out: list[Outgoing] = []
        dead: list[tuple[Any, InvalidRecord]] = []
        for message in messages:
            try:
                out += self.act(message, await self.decode_waiting(message.value), now)
            except InvalidRecord as exc:
                dead.append((message, exc))
            except Exception as exc:   # a bug, not bad input: this record only goes to the DLQ
                log.error("record %s[%d]@%d failed (%s); sent to the DLQ", message.topic, message.partition,
                          message.offset, type(exc).__name__)
                dead.append((message, InvalidRecord("internal", f"internal error ({type(exc).__name__})")))
        sealed = bool(dead) and self.dead_letters.prepare(message for message, _ in dead)
        for message, invalid in dead:
            out.append(self.dead_letters.letter(message, invalid))
            self.metrics.records_dead.labels(self.topic, invalid.rule).inc()

        async def before() -> None:
            # a new subject's secret is in its changelog before a dead letter sealed with it goes out
            await asyncio.gather(
                *([retrying(f"writing the secrets of dead letters from {self.topic}", self.dead_letters.flush)]
                  if sealed else []),
                self.before())

        async def send() -> None:
            await publish_all(self.producer, out, self.what)

        async def after() -> None:
            await self.finish()
            self.metrics.records_in.labels(self.topic).inc(len(messages))
            for message in messages:
                self.positions[message.partition] = message.offset + 1

        return Staged(before, send, after)


__all__ = ["BatchHandler", "BatchState", "InputHandler", "Staged", "Write", "no_write", "write_staged"]
