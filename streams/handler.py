"""One batch of input records: process it, produce every result, and only then let Faust ack it.

Nothing on input can crash the worker: a record that makes the processors fail unexpectedly goes
to the DLQ (rule ``internal``) like any invalid record. Producing is retried with backoff until
the broker takes every record, so a batch is never acked half-delivered (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from processors.decode import encoding_of
from processors.errors import InvalidRecord
from processors.pipeline import BatchResult, Decoded, TopicPipeline
from processors.records import audit_record
from processors.records import dlq_headers as dlq_envelope
from streams.metrics import Metrics

log = logging.getLogger(__name__)

DLQ_TRUNCATE_BYTES = 900_000


def dlq_headers(exc: InvalidRecord, message: Any) -> list[tuple[str, bytes]]:
    """DLQ envelope headers (schemas/dlq.v1.avsc). Reason, rule and path never hold a value."""
    return dlq_envelope(source_topic=message.topic, partition=message.partition, offset=message.offset,
                        encoding=encoding_of(message.value), reason=exc.reason, rule=exc.rule, path=exc.path,
                        failed_at=datetime.now(UTC))


def gate_audits(result: BatchResult, messages: Sequence[Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One audit record per subject, output and reason of a batch's gated records."""
    first = messages[0]
    now = time.time()
    return [audit_record("gate", subject, now, f"{first.topic}:{first.partition}:{first.offset}:{subject}:{output}",
                         rule=f"gate.{reason}", details={"output": names[output], "reason": reason,
                                                         "records": str(count), "source_topic": first.topic})
            for (output, reason, subject), count in result.gated.items()]


class BatchHandler:
    def __init__(self, pipeline: TopicPipeline, topic: str, dlq_topic: str, metrics: Metrics,
                 secrets_for: Callable[[dict[str, int]], tuple[dict[str, bytes], int]],
                 producer: Callable[[], AIOKafkaProducer], topic_name: Callable[[str], str],
                 flush_state: Callable[[], Awaitable[None]],
                 schedule: Callable[[Sequence[tuple[int, dict[str, Any]]]], int] | None = None,
                 blocked: Callable[[dict[str, int]], Mapping[str, Mapping[str, str]]] | None = None,
                 audit_topic: str | None = None) -> None:
        self.blocked = blocked   # subjects whose records must not reach some outputs (streams/requests.py)
        self.audit_topic = audit_topic
        self.flush_state = flush_state
        self.schedule = schedule   # sets retention deadlines from valid records (streams/retention.py)
        self.pipeline, self.topic, self.dlq_topic = pipeline, topic, dlq_topic
        # outputs are named by the policy's canonical topics; a deployment may prefix them
        self.names = {plan.output: topic_name(plan.output) for plan in pipeline.plans}
        # series exist from start-up at 0, so that rate() and increase() see the first records
        metrics.records_in.labels(topic)
        for name in self.names.values():
            metrics.records_out.labels(name)
        self.metrics, self.secrets_for, self.producer = metrics, secrets_for, producer
        self.positions: dict[int, int] = {}
        self.created = 0
        self.staged = 0

    async def handle(self, messages: Sequence[Any]) -> None:
        started = time.perf_counter()
        self.created = self.staged = 0
        result = self.process(messages)
        if self.created or self.staged:
            # new subject secrets must be in their changelog before any output uses them and
            # the batch is acked, or a crash now would re-key these subjects after recovery;
            # new deadlines before the batch is acked, or a crash now would lose them
            await self._retrying("writing new subject secrets", self.flush_state)
        await self._retrying("producing", lambda: self.produce(result, messages))
        self.observe(result, messages, started)

    async def _retrying(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` until the broker takes it: nothing is acked, so nothing is lost meanwhile."""
        delay = 0.5
        while True:
            try:
                await step()
                return
            except KafkaError as exc:
                log.warning("%s for a batch from %s failed (%s); retrying in %.1fs",
                            what, self.topic, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def prepare(self, decoded: Decoded, messages: Sequence[Any]) -> dict[str, bytes]:
        """The batch's state: each subject's secret (created where missing) and the new deadlines."""
        found, created = self.secrets_for({s: messages[i].partition for s, i in decoded.subjects.items()})
        self.created += created
        if self.schedule is not None:   # before anonymize, which rewrites the records in place
            self.staged += self.schedule([(messages[i].partition, record) for i, record in decoded.records])
        return found

    def gates(self, decoded: Decoded, messages: Sequence[Any]) -> Mapping[str, Mapping[str, str]] | None:
        if self.blocked is None or not decoded.subjects:
            return None
        return self.blocked({s: messages[i].partition for s, i in decoded.subjects.items()})

    def process(self, messages: Sequence[Any]) -> BatchResult:
        pipeline = self.pipeline
        try:
            decoded = pipeline.decode([m.value for m in messages])
            return pipeline.anonymize(decoded, self.prepare(decoded, messages), self.gates(decoded, messages))
        except Exception as exc:  # a bug, not bad input: isolate the record that triggers it
            log.error("batch from %s failed in processing (%s); retrying record by record",
                      self.topic, type(exc).__name__)
        result = BatchResult()
        for index, message in enumerate(messages):
            try:
                decoded = pipeline.decode([message.value])
                one = pipeline.anonymize(decoded, self.prepare(decoded, [message]), self.gates(decoded, [message]))
            except Exception as exc:
                log.error("record %s[%d]@%d failed in processing (%s); sent to the DLQ",
                          message.topic, message.partition, message.offset, type(exc).__name__)
                reason = f"internal error while processing ({type(exc).__name__})"
                result.dead.append((index, InvalidRecord("internal", reason)))
                continue
            for out in one.outputs:
                out.index = index
                result.outputs.append(out)
            result.dead += [(index, err) for _, err in one.dead]
            result.tagged.update(one.tagged)
            result.gated.update(one.gated)
        return result

    async def produce(self, result: BatchResult, messages: Sequence[Any]) -> None:
        producer = self.producer()
        names = self.names
        futures = []
        for out in list(result.outputs):
            try:
                futures.append(await producer.send(names[out.topic], out.value, key=out.key))
            except MessageSizeTooLargeError:   # the anonymized copy outgrew what may be sent
                result.outputs.remove(out)
                result.dead.append((out.index, InvalidRecord("max_size", "anonymized record too large to produce")))
        dead = []
        for index, exc in result.dead:
            message = messages[index]
            headers = dlq_headers(exc, message)
            try:
                future = await producer.send(self.dlq_topic, message.value, key=message.key, headers=headers)
            except MessageSizeTooLargeError:   # larger than this producer may send
                future = await self._send_truncated(producer, message, headers)
            dead.append((message, headers, future))
        if result.gated and self.audit_topic is not None:
            for audit in gate_audits(result, messages, self.names):
                futures.append(await producer.send(self.audit_topic, orjson.dumps(audit),
                                                   key=(audit["subject"] or "").encode()))
        await asyncio.gather(*futures)
        for message, headers, future in dead:
            try:
                await future
            except MessageSizeTooLargeError:   # larger than the broker takes
                await (await self._send_truncated(producer, message, headers))

    async def _send_truncated(self, producer: AIOKafkaProducer, message: Any,
                              headers: list[tuple[str, bytes]]) -> asyncio.Future[Any]:
        """Dead-letter the head of a record too large for the broker, saying how long it was."""
        note = [("truncated_from_bytes", str(len(message.value)).encode())]
        future: asyncio.Future[Any] = await producer.send(
            self.dlq_topic, message.value[:DLQ_TRUNCATE_BYTES], key=message.key, headers=headers + note)
        return future

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
        for category, count in result.tagged.items():
            m.fields_tagged.labels(category).inc(count)
        for (output, reason, _), count in result.gated.items():
            m.records_gated.labels(self.names[output], reason).inc(count)
        now_ms = time.time() * 1000
        latency = m.event_latency.labels(topic)
        for message in messages[:: max(len(messages) // 50, 1)]:   # a sample per batch is enough
            if message.timestamp:
                latency.observe(max(now_ms - message.timestamp, 0) / 1000)
        positions = self.positions
        for message in messages:
            positions[message.partition] = message.offset + 1


class TopicHandler:
    """Adapts a ``handle(messages)`` coroutine to the ingest consumer (lag positions, input count)."""

    def __init__(self, topic: str, handle: Callable[[Sequence[Any]], Any], metrics: Metrics) -> None:
        self.topic, self._handle, self.metrics = topic, handle, metrics
        self.positions: dict[int, int] = {}
        metrics.records_in.labels(topic)

    async def handle(self, messages: Sequence[Any]) -> None:
        await self._handle(messages)
        self.metrics.records_in.labels(self.topic).inc(len(messages))
        for message in messages:
            self.positions[message.partition] = message.offset + 1


__all__ = ["BatchHandler", "Decoded", "TopicHandler", "dlq_headers"]
