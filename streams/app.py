"""The Faust app and the services a worker runs beside it (see docs/architecture.md).

Input batches reach ``processors`` through a :class:`BatchHandler`, fed by the batch ingest
(``streams/ingest.py``; the one runtime, docs/architecture.md). Per-subject
secrets live in the changelog topic ``<app id>-subject-secrets-changelog``, partitioned like the
input. Every output record and dead letter goes through one librdkafka producer
(streams/producer.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.app.base import BootStrategy
from mode import Service

from processors.decode import Limits
from processors.inputs import Inputs
from processors.pipeline import TopicPipeline, compile_pipelines
from processors.policy import Policy, load_policy
from processors.provided import with_provided
from processors.retention.timers import RetentionPlan
from processors.schemas import SchemaCatalog
from processors.sharing import recipients_of
from processors.sources import fields_for_review
from streams.consent import ConsentHandler
from streams.dlq import DeadLetters
from streams.handler import BatchHandler, InputHandler, Write, no_write
from streams.ingest import DirectIngest
from streams.kafka import faust_credentials
from streams.metrics import Metrics
from streams.outputs import OutputProducer
from streams.registry import registry_from
from streams.requests import Requests
from streams.retention import FIRE_LIMIT, TICK_SECONDS, HoldHandler, Retention
from streams.settings import Settings
from streams.state.consent import ConsentStore, consent_topic
from streams.state.holds import HoldStore
from streams.state.maps import maps_of
from streams.state.requests import RequestStore, requests_topic
from streams.state.secrets import SecretStore, changelog_topic
from streams.state.sessions import SessionChoices, session_consent_topic
from streams.state.sharing import SharingStore
from streams.state.subjects import SubjectState
from streams.state.timers import TimerStore, index_factory, timers_topic
from streams.topics import retained_topics

log = logging.getLogger(__name__)


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


def _every(seconds: float, step: Callable[[], Awaitable[Any]], what: str) -> Callable[[DirectIngest], Awaitable[None]]:
    async def once() -> bool:
        await step()
        return False
    return _loop(what, once, seconds)


def _loop(what: str, step: Callable[[], Awaitable[bool]], pause: float) -> Callable[[DirectIngest], Awaitable[None]]:
    """Run ``step`` under the ingest lock (partitions do not move meanwhile) until the worker stops.

    Not between a revoke and the next assignment: the revoked partitions' state is kept dormant
    then (streams/state/base.py), and no timer or request of it may be acted on.
    A bug in a step must not end the loop for good: it is logged by type (an exception message
    may quote a value) and the step runs again after a pause.
    """
    async def loop(ingest: DirectIngest) -> None:
        while not ingest.should_stop:
            busy = False
            try:
                async with ingest.lock:
                    if not ingest.rebalancing:
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
    """Load the policy and schemas and compile every plan: all configuration errors surface here."""
    policy = load_policy(settings.policy_path)
    catalog = SchemaCatalog.load(settings.schemas_dir)
    limits = Limits(max_record_bytes=settings.max_record_bytes)
    registry = registry_from(settings.schema_registry_url)   # Confluent wire-format input
    pipelines = compile_pipelines(policy, catalog, settings.pseudonym_key.reveal(), limits, settings.output_encoding,
                                  registry)
    for source, count in fields_for_review(policy, catalog).items():
        log.warning("source %s: schema fields awaiting review: %d (\"review\" attribute; see lethe discover)",
                    source, count)
    return policy, pipelines, Inputs(catalog, limits, registry)


def _host_app(settings: Settings, bootstrap: str) -> faust.App:
    """The Faust app whose Worker hosts the services; it runs no agent, stream or table.

    Nor any Kafka client of its own: its idle consumer and producer would only log every failed
    reconnect while the broker is away, and its consumer took a minute to stop (issue 10).
    """
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        broker_credentials=faust_credentials(),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(settings.session_timeout_s / 3, 0.5),
        broker_request_timeout=max(settings.session_timeout_s * 5, 30.0),
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        datadir=str(settings.data_dir / "faust"),
    )
    app.boot_strategy = BootStrategy(app, enable_kafka=False, enable_web=False, enable_sensors=False)
    return app


def create_app(settings: Settings, bootstrap: str, metrics: Metrics | None = None,
               clock: Callable[[], float] = time.time) -> Lethe:
    """Build a worker; ``clock`` (epoch seconds) decides deadlines, request due dates and audit times."""
    metrics = metrics or Metrics()
    policy, pipelines, inputs = build_pipelines(settings)
    app = _host_app(settings, bootstrap)
    # a DLQ record carries the original bytes plus headers, so allow the largest input and then some
    output = OutputProducer(bootstrap, max_request_size=max(settings.max_record_bytes * 8, 16 * 1_048_576))
    metrics.info.labels(policy.version, settings.output_encoding).set(1)
    services: list[Service] = [output]

    def forget_keys(secret: bytes) -> None:
        for pipeline in pipelines.values():
            pipeline.forget(secret)

    maps = maps_of(settings)   # memory:// or rocksdb:// (LETHE_TABLE_STORE)
    store = SecretStore(bootstrap, changelog_topic(settings), metrics, forget_keys, maps)
    timers = TimerStore(bootstrap, timers_topic(settings), metrics, index_factory(settings, maps))
    holds = HoldStore(bootstrap, settings.topics.name("legal-holds.v1"), metrics, inputs=inputs)
    retention = Retention(settings, RetentionPlan(policy.retention, policy.sources), timers, holds, output.get,
                          metrics, clock)
    request_store = RequestStore(bootstrap, requests_topic(settings), metrics, maps)
    sessions = SessionChoices(bootstrap, session_consent_topic(settings), settings.partitions, metrics,
                              policy.consent.session_choice_max_age, clock)
    consent = ConsentStore(bootstrap, consent_topic(settings), metrics, policy.consent, policy.version,
                           {o.topic: o.consent for o in policy.outputs.values()}, sessions, maps)
    sharing = SharingStore(bootstrap, settings.topics.name("privacy.sharing.v1"), recipients_of(policy), clock,
                           lambda partner, category, added: metrics.shares.labels(partner, category).inc(added),
                           policy.sharing)
    rights, notes = with_provided(policy.rights, policy.sources, inputs.catalog)
    for note in notes:   # what a portability export holds (processors/provided.py)
        log.warning("%s", note)
    requests = Requests(settings, rights, request_store, store, output.get, metrics,
                        {o.topic: o.purpose for o in policy.outputs.values()}, consent, timers, holds, sharing,
                        retention.ack, clock, retained_topics(settings, policy))
    subjects = SubjectState(store, retention, request_store, consent, sharing)

    async def every_second() -> None:
        await requests.tick()
        retention.report_unacked()   # the oldest unacked command ages even when no ack comes

    audit_topic = settings.topics.name("privacy.audit.v1")
    master_key = settings.pseudonym_key.reveal()   # dead letters are sealed (streams/dlq.py)
    handlers: dict[str, Any] = {
        settings.topics.name(source): BatchHandler(
            pipelines[source], settings.topics.name(source),
            DeadLetters(settings.topics.dlq, master_key, subjects if policy.sources[source].subject else None),
            metrics, subjects, output.get,
            settings.topics.name, audit_topic, clock)
        for source in policy.sources
    }
    hold_handler = HoldHandler(holds, retention, requests.resume)
    consent_handler = ConsentHandler(audit_topic, consent, metrics)
    # (topic, decode, act, written before its records go out, written after them, what they are)
    inputs_of: tuple[tuple[str, Callable[[bytes | None], Any], Any, Write, Write, str], ...] = (
        ("legal-holds.v1", inputs.hold, hold_handler.act, no_write, hold_handler.finish, "hold audit records"),
        ("consent.v1", inputs.consent, consent_handler.act, consent_handler.before, no_write,
         "consent audit records"),
        ("privacy-requests.v1", inputs.request, requests.accept, requests.before_requests, requests.finish_requests,
         "request commands and audit records"),
        ("lifecycle.acks.v1", inputs.ack, requests.ack, no_write, requests.finish_acks, "request audit records"),
    )
    for name, decode, act, before, finish, what in inputs_of:
        handlers[settings.topics.name(name)] = InputHandler(
            settings.topics.name(name), DeadLetters(settings.topics.dlq, master_key, subjects), metrics, output.get,
            decode, act, finish, clock, what, before)
    services.append(DirectIngest(
        settings, bootstrap, handlers, [store, holds, timers, request_store, consent, sharing, sessions], metrics,
        background=[_firing(retention), _every(1.0, every_second, "request deadlines"),
                    _every(1.0, sharing.write_due, "sharing ledger"),
                    _every(min(3600.0, max(1.0, policy.consent.session_choice_max_age / 10)), sessions.sweep,
                           "session choice expiry")]))
    if settings.metrics_port:
        services.append(MetricsServer(metrics, settings.metrics_port))
    return Lethe(app, settings, metrics, policy, output, services)


