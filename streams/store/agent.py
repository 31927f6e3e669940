"""``lethe store-agent``: apply lifecycle commands to one database and acknowledge each one.

Consumes ``lifecycle.commands.v1`` (a partner's agent: its ``partners.<name>.commands.v1``,
``--commands-topic``) in the group ``<app id>.store.<store>``. The commands of a poll are applied
in order, up to ``LETHE_AGENT_BATCH`` (``--batch``, default 500) delete, anonymize and update
commands in one transaction (:meth:`StoreAdapter.apply_batch`: idempotent, every command id
recorded with its result); each ack goes to ``lifecycle.acks.v1`` (on the command's partition) as
soon as its transaction commits, and the poll's offsets are committed only once the broker has
every ack. An export is applied alone, in its place in the order. A command that fails on the
database is acked as ``failed`` and retried with backoff until it applies, before the commands
after it: it is never dropped. A command that cannot be read is acked ``failed`` with a reason and
skipped (it cannot succeed later).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.future import Future

from processors.chunks import chunked
from processors.decode import Limits
from processors.errors import InvalidRecord, LetheError
from processors.exportkeys import seal_part
from processors.inputs import Inputs
from processors.records import export_part, lifecycle_ack
from processors.schemas import SchemaCatalog
from processors.time import parse_time
from streams.client import group_consumer, poll, stop_flag
from streams.connection import BrokerWatch
from streams.kafka import check_reachable, kafka_python_options
from streams.metrics import Metrics, store_agent_metrics
from streams.outputs import Backoff, retrying_blocking
from streams.settings import Settings
from streams.store.base import StoreAdapter, StoreUnavailable, open_store
from streams.store.mapping import load_mapping
from streams.text import plural

log = logging.getLogger(__name__)


def run_store_agent(settings: Settings, mapping_path: Path, commands_topic: str = "lifecycle.commands.v1",
                    name: str | None = None, batch: int | None = None) -> int:
    """``commands_topic``: a partner's agent reads its own (``partners.<name>.commands.v1``, the commands
    for the subjects the sharing ledger says it received); ``name`` overrides the mapping's store name;
    ``batch`` overrides ``LETHE_AGENT_BATCH`` (the most commands applied in one transaction)."""
    mapping = load_mapping(mapping_path)
    if name is not None:
        mapping = dataclasses.replace(mapping, store=name)
    inputs = Inputs(SchemaCatalog.load(settings.schemas_dir), Limits(max_record_bytes=settings.max_record_bytes))
    if settings.bootstrap_servers is None:
        raise LetheError("the store agent needs LETHE_BOOTSTRAP_SERVERS (the cluster the workers use)")
    check_reachable(settings.bootstrap_servers)
    store = open_store(settings.store_url, mapping)
    _wait_for_database(store)
    metrics = Metrics(worker=False)
    commands, oldest = store_agent_metrics(metrics)
    in_hand: list[float] = []   # issue time of the oldest command being applied
    oldest.labels(mapping.store).set_function(lambda: time.time() - in_hand[0] if in_hand else 0.0)
    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
    consumer = group_consumer(settings, [settings.topics.name(commands_topic)],
                              f"{settings.app_id}.store.{mapping.store}", f"lethe-store-{mapping.store}")
    producer = KafkaProducer(**kafka_python_options(), bootstrap_servers=settings.bootstrap_servers, acks="all",
                             client_id=f"lethe-store-{mapping.store}", max_block_ms=10_000)
    acks_topic = settings.topics.name("lifecycle.acks.v1")
    exports_topic = settings.topics.name("privacy.exports.v1")
    stopping = stop_flag()
    watch = BrokerWatch(settings.bootstrap_servers, metrics).start()   # says once if it goes away
    print(f"lethe: store agent {mapping.store} on {settings.bootstrap_servers}, "
          f"{plural(len(mapping.tables), 'mapped table')}", file=sys.stderr, flush=True)
    metrics.ready_reason = ""
    agent = _Agent(store, inputs, producer, acks_topic, exports_topic, stopping, in_hand, commands,
                   batch or settings.agent_batch, metrics.beat)
    try:
        while not stopping:
            metrics.beat()
            polled = poll(consumer, 500)
            if not polled:
                continue
            if not agent.apply([record for records in polled.values() for record in records]):
                return 0   # stopping: nothing of this poll is committed; it is applied again
            consumer.commit()   # every ack of the poll is on the broker
    finally:
        watch.stop()
        consumer.close(autocommit=False)
        producer.close(timeout=2)   # an unsent ack is not lost: its command was not committed
        store.close()
    return 0


class _Agent:
    """Applies the commands of one poll and publishes their acks; the caller commits the offsets after."""

    def __init__(self, store: StoreAdapter, inputs: Inputs, producer: KafkaProducer, acks_topic: str,
                 exports_topic: str, stopping: list[bool], in_hand: list[float], counter: Any, batch: int,
                 beat: Callable[[], None]) -> None:
        self.store, self.inputs, self.producer, self.stopping = store, inputs, producer, stopping
        self.acks_topic, self.exports_topic, self.in_hand, self.counter = acks_topic, exports_topic, in_hand, counter
        self.batch, self.beat = batch, beat

    def stop(self) -> bool:
        return bool(self.stopping)

    def apply(self, records: list[Any]) -> bool:
        """Apply ``records`` in order, ``batch`` writes per transaction, handing each ack to the producer
        as soon as it is known; True once the broker has every ack, False when stopping first.

        An export, or a command that cannot be read, is handled alone; a write that fails is acked
        ``failed`` and retried with backoff before the commands after it are applied."""
        outbox = _Outbox(self.producer, self.stop)
        done: list[tuple[str, str]] = []   # (action, status) of each ack, counted once the broker has them all
        decoded = [(record, _decode(self.inputs, record.value)) for record in records]
        at = 0
        while at < len(decoded):
            if self.stop():
                return False
            group = _writes(decoded[at:at + self.batch])
            if not group:   # an export or an unreadable command
                record, command = decoded[at]
                if not self._alone(outbox, done, record, command):
                    return False
                at += 1
                continue
            self.in_hand[:] = [min(_issued_at(command) or time.time() for _, command in group)]
            acks = self.store.apply_batch([command for _, command in group])
            for (record, command), ack in zip(group, acks, strict=False):
                if ack["status"] != "failed":
                    self._queue(outbox, done, record, ack, command["action"])
            if acks[-1]["status"] == "failed":   # retried alone until it applies, then the rest
                record, command = group[len(acks) - 1]
                if not self._alone(outbox, done, record, command):
                    return False
            at += len(acks)
        if not outbox.wait():
            return False   # stopping before the broker took every ack: the poll is applied again
        self.in_hand.clear()
        for action, status in done:
            self.counter.labels(self.store.mapping.store, action, status).inc()
        return True

    def _alone(self, outbox: _Outbox, done: list[tuple[str, str]], record: Any,
               command: dict[str, Any] | InvalidRecord) -> bool:
        self.in_hand[:] = [_issued_at(command) or time.time()]
        ack = _handle(self.store, command, self.stopping,
                      _publisher(self.producer, self.exports_topic, record.key, record.partition, self.stop),
                      self.beat, _failure_reporter(self.producer, self.acks_topic, record.key, record.partition,
                                                   self.counter, self.store.mapping.store))
        if ack is None:
            return False
        action = ack.pop("_action", "unknown")
        self._queue(outbox, done, record, ack, action)
        return True

    def _queue(self, outbox: _Outbox, done: list[tuple[str, str]], record: Any, ack: dict[str, Any],
               action: str) -> None:
        # on the command's partition: the worker that owns it tracks the request
        outbox.send(self.acks_topic, record.key, json.dumps(ack).encode(), record.partition)
        done.append((action, ack["status"]))


class _Outbox:
    """Records handed to the producer as they come and awaited together, each refused one sent again."""

    def __init__(self, producer: KafkaProducer, stop: Callable[[], bool]) -> None:
        self.producer, self.stop = producer, stop
        self.sent: list[tuple[tuple[str, bytes | None, bytes, int], Any]] = []

    def send(self, topic: str, key: bytes | None, value: bytes, partition: int) -> None:
        self.sent.append(((topic, key, value, partition), self._send(topic, key, value, partition)))

    def _send(self, topic: str, key: bytes | None, value: bytes, partition: int) -> Any:
        try:
            return self.producer.send(topic, key=key, value=value, partition=partition)
        except KafkaError as exc:   # e.g. no metadata within max_block_ms: sent again by wait()
            return exc

    def wait(self) -> bool:
        """Wait until the broker has every record, retrying with the shared backoff; False if stopped first."""
        def attempt() -> bool | None:
            deadline = time.monotonic() + 30
            for _, future in self.sent:
                while isinstance(future, Future) and not future.is_done and not self.stop():
                    if time.monotonic() > deadline:   # sent again below
                        break
                    with contextlib.suppress(KafkaError):
                        future.get(timeout=0.5)   # in slices: SIGTERM stops within a second
                if self.stop() and isinstance(future, Future) and not future.is_done:
                    return None
            refused = [record for record, future in self.sent
                       if not (isinstance(future, Future) and future.succeeded())]
            if not refused:
                return True
            log.warning("the broker did not take %s; sending again", plural(len(refused), "record"))
            self.sent = [(record, self._send(*record)) for record in refused]
            return None

        return retrying_blocking("publishing to Kafka", attempt, self.stop) is not None


def _decode(inputs: Inputs, raw: bytes | None) -> dict[str, Any] | InvalidRecord:
    """The command, or why it cannot be read (schemas/lifecycle.commands.v1.avsc, JSON or Avro)."""
    try:
        command = inputs.command(raw)
    except InvalidRecord as exc:
        return exc
    if command["action"] == "export" and not command.get("export_key"):   # never published in clear
        return InvalidRecord("required", "an export command carries the key its part is sealed to", "export_key")
    return command


def _handle(store: StoreAdapter, command: dict[str, Any] | InvalidRecord, stopping: list[bool],
            publish_export: Callable[[bytes], Any], beat: Callable[[], None] = lambda: None,
            report_failure: Callable[[dict[str, Any], str], None] = lambda ack, action: None) -> dict[str, Any] | None:
    mapping = store.mapping
    if isinstance(command, InvalidRecord):   # acked as failed, not a crash loop: it can never apply
        return {**lifecycle_ack("unreadable", mapping.store, "failed", 0, datetime.now(UTC),
                                f"command is not a lifecycle command: {command}"), "_action": "unknown"}
    command_id, action = command["command_id"], command["action"]
    last: list[dict[str, Any]] = []

    def attempt() -> dict[str, Any] | None:
        ack = _export(store, command, publish_export) if action == "export" else store.apply(command)
        last[:] = [ack]
        return {**ack, "_action": action} if ack["status"] != "failed" else None

    def failed(attempt_number: int) -> None:
        if attempt_number == 1:   # the first failure is acked as such (alerts see it); the retries are not
            report_failure(last[0], action)
        log.warning("command %s failed on %s (%s)", command_id, mapping.store, last[0]["error"])
        beat()   # retrying with backoff is alive, not stuck

    return retrying_blocking(f"applying a command on {mapping.store}", attempt, lambda: bool(stopping), failed)


def _failure_reporter(producer: KafkaProducer, topic: str, key: bytes | None, partition: int, counter: Any,
                      store: str) -> Callable[[dict[str, Any], str], None]:
    def report(ack: dict[str, Any], action: str) -> None:
        try:
            producer.send(topic, key=key, value=json.dumps(ack).encode(), partition=partition).get(timeout=30)
        except KafkaError as exc:   # the final ack still follows; a lost failure report only costs the alert
            log.warning("could not publish a failed ack (%s)", type(exc).__name__)
        counter.labels(store, action, "failed").inc()
    return report


def _send(producer: KafkaProducer, topic: str, key: bytes | None, value: bytes, partition: int,
          stop: Callable[[], bool]) -> bool:
    """Publish one record and wait for the broker, retrying with the shared backoff; False if stopped first."""
    outbox = _Outbox(producer, stop)
    outbox.send(topic, key, value, partition)
    return outbox.wait()


def _publisher(producer: KafkaProducer, topic: str, key: bytes | None, partition: int,
               stop: Callable[[], bool] = lambda: False) -> Callable[[bytes], Any]:
    def publish(value: bytes) -> Any:
        if not _send(producer, topic, key, value, partition, stop):
            raise KafkaError("stopped before the broker took an export part")
        return True
    return publish


def _export(store: StoreAdapter, command: dict[str, Any], publish: Callable[[bytes], Any]) -> dict[str, Any]:
    """Read the subject's rows and publish them as an export part; the ack counts the rows."""
    mapping = store.mapping
    acked_at = datetime.now(UTC)
    try:
        rows = store.export_rows(command)
    except StoreUnavailable as exc:
        return lifecycle_ack(command["command_id"], mapping.store, "failed", 0, acked_at, str(exc))
    pieces = chunked(rows, lambda row: len(json.dumps(row, ensure_ascii=False)))   # each under the size limit
    for n, piece in enumerate(pieces):
        part = seal_part(command["export_key"], export_part(
            command["rule"], command["subject"], mapping.store, command["selector"]["family"], acked_at,
            json.dumps(piece, ensure_ascii=False), n, len(pieces)))
        try:
            publish(json.dumps(part).encode())
        except KafkaError:   # only when stopping: not acked, so the command is applied again
            return lifecycle_ack(command["command_id"], mapping.store, "failed", 0, acked_at,
                                 "stopped before the export was published")
    return lifecycle_ack(command["command_id"], mapping.store, "applied" if rows else "not_found", len(rows),
                         acked_at)


def _writes(decoded: list[tuple[Any, dict[str, Any] | InvalidRecord]]) -> list[tuple[Any, dict[str, Any]]]:
    """The writes (delete, anonymize, update) at the head of ``decoded``: what one transaction applies."""
    group = []
    for record, command in decoded:
        if isinstance(command, InvalidRecord) or command["action"] == "export":
            break
        group.append((record, command))
    return group


def _issued_at(command: dict[str, Any] | InvalidRecord) -> float | None:
    if isinstance(command, InvalidRecord):
        return None
    try:
        return parse_time(command["issued_at"])
    except ValueError:
        return None


def _wait_for_database(store: StoreAdapter, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout

    def ready() -> bool | None:
        try:
            store.prepare()
            return True
        except StoreUnavailable as exc:
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"{exc}; check LETHE_STORE_URL") from None
            return None

    retrying_blocking("reaching the store database", ready, lambda: False, backoff=Backoff(0.5, 5.0))
