"""The Faust app and the services a worker runs beside it (see docs/architecture.md).

Input batches reach ``processors`` through a :class:`BatchHandler`, fed either by direct ingest
(``streams/ingest.py``, the default) or by Faust agents (``LETHE_INGEST=faust``). Per-subject
secrets live in the changelog topic ``<app id>-subject-secrets-changelog``, partitioned like the
input. Anonymized records and dead letters go through one dedicated aiokafka producer with large
batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from mode import Service

from processors.decode import Limits
from processors.inputs import Inputs
from processors.pipeline import TopicPipeline
from processors.policy import Policy, load_policy
from processors.pseudonym import new_subject_secret
from processors.retention.timers import RetentionPlan
from processors.schemas import SchemaCatalog
from streams.consent import ConsentHandler, ConsentStore, consent_topic
from streams.handler import BatchHandler, TopicHandler
from streams.ingest import DirectIngest, SecretStore, changelog_topic
from streams.kafka import aiokafka_options, faust_credentials
from streams.metrics import Metrics
from streams.requests import Requests, RequestStore, requests_topic
from streams.retention import (
    FIRE_LIMIT,
    TICK_SECONDS,
    HoldHandler,
    HoldStore,
    Retention,
    TimerStore,
    index_factory,
    timers_topic,
)
from streams.settings import Settings

log = logging.getLogger(__name__)

SOURCES = ("orders.v1", "logs.v1")


class OutputProducer(Service):
    """The producer for anonymized topics and the DLQ (large batches, acks=all)."""

    def __init__(self, bootstrap: str, max_request_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.max_request_size = max_request_size
        self.producer: AIOKafkaProducer | None = None

    def get(self) -> AIOKafkaProducer:
        if self.producer is None:
            raise RuntimeError("the output producer is not started")
        return self.producer

    async def on_start(self) -> None:
        self.producer = AIOKafkaProducer(
            **aiokafka_options(),
            bootstrap_servers=self.bootstrap,
            client_id="lethe-output",
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=30_000,
            max_request_size=self.max_request_size,
        )
        await self.producer.start()

    async def on_stop(self) -> None:
        if self.producer is not None:
            await self.producer.flush()
            await self.producer.stop()


class MetricsServer(Service):
    def __init__(self, metrics: Metrics, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics, self.port = metrics, port

    async def on_start(self) -> None:
        self.metrics.serve(self.port)
        log.info("metrics on http://0.0.0.0:%d/metrics", self.port)


def _firing(retention: Retention) -> Callable[[DirectIngest], Awaitable[None]]:
    async def fire() -> bool:
        return await retention.tick() >= FIRE_LIMIT   # a full tick: go on at once
    return _loop("retention timers", fire, TICK_SECONDS)


def _every(seconds: float, step: Callable[[], Awaitable[None]]) -> Callable[[DirectIngest], Awaitable[None]]:
    async def once() -> bool:
        await step()
        return False
    return _loop("request deadlines", once, seconds)


def _loop(what: str, step: Callable[[], Awaitable[bool]], pause: float) -> Callable[[DirectIngest], Awaitable[None]]:
    """Run ``step`` under the ingest lock (partitions do not move meanwhile) until the worker stops.

    A bug in a step must not end the loop for good: it is logged by type (an exception message
    may quote a value) and the step runs again after a pause.
    """
    async def loop(ingest: DirectIngest) -> None:
        while not ingest.should_stop:
            busy = False
            try:
                async with ingest.lock:
                    busy = await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("%s: a step failed (%s); retrying in 1s", what, type(exc).__name__)
                await asyncio.sleep(1.0)
            if not busy:
                await asyncio.sleep(pause)
    return loop


@dataclass
class Lethe:
    """A built app with what its worker must run beside it."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    policy: Policy
    output: OutputProducer
    services: list[Service]


def build_pipelines(settings: Settings) -> tuple[Policy, dict[str, TopicPipeline], Inputs]:
    """Load the policy and schemas, compile every plan and decoder: all configuration errors surface here."""
    policy = load_policy(settings.policy_path)
    catalog = SchemaCatalog.load(settings.schemas_dir)
    limits = Limits(max_record_bytes=settings.max_record_bytes)
    key = settings.pseudonym_key.reveal()
    return policy, {
        source: TopicPipeline(catalog, policy, source, key, limits, settings.output_encoding)
        for source in SOURCES
    }, Inputs(catalog, limits)


def create_app(settings: Settings, bootstrap: str, metrics: Metrics | None = None) -> Lethe:
    metrics = metrics or Metrics()
    policy, pipelines, inputs = build_pipelines(settings)
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        broker_credentials=faust_credentials(),
        store=settings.table_store,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(settings.session_timeout_s / 3, 0.5),
        broker_request_timeout=max(settings.session_timeout_s * 5, 30.0),
        # Only changelogs go through Faust's producer. The embedded broker reports the first
        # offset of the last batch as the log end, so recovery stops early (and loses secrets)
        # unless every changelog batch holds one record. Changelog writes happen once per new
        # subject, so one-record batches cost little on Apache Kafka too; keep it everywhere.
        producer_max_batch_size=1,
        stream_buffer_maxsize=max(settings.batch_size * 4, 4096),
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        datadir=str(settings.data_dir / "faust"),
    )
    # a DLQ record carries the original bytes plus headers, so allow the largest input and then some
    output = OutputProducer(bootstrap, max_request_size=max(settings.max_record_bytes * 8, 16 * 1_048_576))
    metrics.info.labels(policy.version, settings.output_encoding).set(1)
    services: list[Service] = [output]
    if settings.ingest == "faust":
        _faust_agents(app, settings, metrics, pipelines, output)
        if policy.retention:
            log.warning("LETHE_INGEST=faust does not run retention timers or legal holds (not built); "
                        "use the default LETHE_INGEST=direct to enforce the policy's [retention] rules")
    else:
        def forget_keys(secret: bytes) -> None:
            for pipeline in pipelines.values():
                pipeline.forget(secret)

        store = SecretStore(bootstrap, changelog_topic(settings), metrics, forget_keys)
        timers = TimerStore(bootstrap, timers_topic(settings), metrics, index_factory(settings))
        holds = HoldStore(bootstrap, settings.topics.name("legal-holds.v1"), metrics, inputs=inputs)
        retention = Retention(settings, RetentionPlan(policy.retention), timers, holds, output.get, metrics)
        request_store = RequestStore(bootstrap, requests_topic(settings), metrics)
        consent = ConsentStore(bootstrap, consent_topic(settings), metrics, policy.consent, policy.version,
                               {o.topic: o.consent for o in policy.outputs.values()})
        requests = Requests(settings, policy.rights, request_store, store, output.get, metrics,
                            {o.topic: o.purpose for o in policy.outputs.values()}, consent, timers, holds,
                            retention.ack, inputs=inputs)

        async def every_second() -> None:
            await requests.tick()
            retention.report_unacked()   # the oldest unacked command ages even when no ack comes

        def blocked(subjects: dict[str, int]) -> dict[str, dict[str, str]]:
            gates = request_store.blocked(subjects)
            for subject in subjects:
                for output, reason in consent.gates(subject).items():
                    gates.setdefault(subject, {}).setdefault(output, reason)
            return gates

        async def flush_state() -> None:
            await store.flush()
            await timers.flush()

        def scheduler(family: str) -> Callable[[Sequence[tuple[int, dict[str, Any]]]], int]:
            return lambda records: retention.schedule(family, records)

        audit_topic = settings.topics.name("privacy.audit.v1")
        handlers: dict[str, Any] = {
            settings.topics.name(source): BatchHandler(
                pipelines[source], settings.topics.name(source), settings.topics.dlq, metrics,
                store.secrets_for, output.get, settings.topics.name, flush_state, scheduler(source.split(".")[0]),
                blocked, audit_topic)
            for source in SOURCES
        }
        holds_topic = settings.topics.name("legal-holds.v1")
        hold_handler = HoldHandler(holds_topic, settings.topics.dlq, holds, retention, output.get, metrics,
                                   requests.resume, inputs=inputs)
        consent_input = settings.topics.name("consent.v1")
        consent_handler = ConsentHandler(consent_input, settings.topics.dlq, audit_topic, consent, output.get, metrics,
                                         inputs=inputs)
        for name, handle in (("legal-holds.v1", hold_handler.handle), ("consent.v1", consent_handler.handle),
                             ("privacy-requests.v1", requests.handle_requests),
                             ("lifecycle.acks.v1", requests.handle_acks)):
            handlers[settings.topics.name(name)] = TopicHandler(settings.topics.name(name), handle, metrics)
        services.append(DirectIngest(
            settings, bootstrap, handlers, [store, holds, timers, request_store, consent], metrics,
            background=[_firing(retention), _every(1.0, every_second)]))
    if settings.metrics_port:
        services.append(MetricsServer(metrics, settings.metrics_port))
    return Lethe(app, settings, metrics, policy, output, services)



def _faust_agents(app: faust.App, settings: Settings, metrics: Metrics, pipelines: dict[str, TopicPipeline],
                  output: OutputProducer) -> None:
    """LETHE_INGEST=faust: per-source Faust agents taking batches of events from the stream."""
    secrets = app.Table(
        "subject-secrets",
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,   # partition by key (murmur2), as upstream keys the input topics
    )
    handlers: dict[str, BatchHandler] = {}

    def secrets_for(subjects: dict[str, int]) -> tuple[dict[str, bytes], int]:
        found: dict[str, bytes] = {}
        created = 0
        for subject in subjects:
            raw_key = subject.encode()
            secret = secrets.get(raw_key)
            if secret is None:
                secret = new_subject_secret()
                secrets[raw_key] = secret
                created += 1
            found[subject] = secret
        metrics.subjects_created.inc(created)
        return found, created

    def make_agent(source: str) -> None:
        topic_name = settings.topics.name(source)
        handler = handlers[topic_name] = BatchHandler(
            pipelines[source], topic_name, settings.topics.dlq, metrics, secrets_for, output.get,
            settings.topics.name, app.producer.flush)
        topic = app.topic(topic_name, key_type=bytes, value_type=bytes, partitions=settings.partitions)

        async def agent(stream: Any) -> None:
            async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
                await handler.handle([event.message for event in events])

        agent.__name__ = f"anonymize_{source.split('.')[0]}"
        app.agent(topic, name=f"lethe.anonymize.{source}")(agent)

    for source in SOURCES:
        make_agent(source)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        metrics.beat()   # Faust runs timers once its worker is ready: recovery is done
        metrics.ready_reason = ""

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def report_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            handler = handlers.get(tp.topic)
            highwater = consumer.highwater(tp) if handler else None
            if handler is None or highwater is None:
                continue
            position = handler.positions.get(tp.partition, 0)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))
        metrics.subject_secrets.set(len(secrets))
