"""Prometheus metrics, created against one injected registry (tests build their own).

Labels carry only topic names, partitions, data categories and rule names: never a value
taken from a record.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, make_wsgi_app

from processors.errors import ConfigError

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 3600.0, 86_400.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, worker: bool = True) -> None:
        """``worker=False``: the registry and health only (a store agent adds its own series)."""
        self.heartbeat, self.ready_reason = 0.0, "starting"
        self.registry = registry or CollectorRegistry()
        if not worker:
            return
        r = self.registry
        self.records_in = Counter("lethe_records_in", "Records consumed from an input topic",
                                  ["topic"], registry=r)
        self.records_out = Counter("lethe_records_out", "Anonymized records produced to an output topic",
                                   ["topic"], registry=r)
        self.records_dead = Counter("lethe_records_dead_lettered",
                                    "Input records sent to the DLQ, by source topic and failed rule",
                                    ["topic", "rule"], registry=r)
        self.fields_tagged = Counter("lethe_fields_tagged", "Personal fields tagged, by data category",
                                     ["category"], registry=r)
        self.batch_seconds = Histogram("lethe_batch_processing_seconds",
                                       "Time to decode, tag, anonymize and produce one batch",
                                       ["topic"], buckets=LATENCY_BUCKETS, registry=r)
        self.event_latency = Histogram("lethe_event_latency_seconds",
                                       "From a record's Kafka timestamp to its anonymized copy being acknowledged",
                                       ["topic"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("lethe_batch_records", "Records per processed batch", ["topic"],
                                    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000), registry=r)
        self.consumer_lag = Gauge("lethe_consumer_lag", "Records not yet processed (high watermark - position)",
                                  ["topic", "partition"], registry=r)
        self.subjects_created = Counter("lethe_subject_secrets_created",
                                        "Per-subject pseudonym secrets created", registry=r)
        self.partitions_owned = Gauge("lethe_partitions_owned",
                                      "Input partitions this worker owns, state restored (one per partition number)",
                                      registry=r)
        self.state_records_restored = Counter("lethe_state_records_restored",
                                              "Changelog records read to restore partition state, by kind of "
                                              "state and how: full (from the beginning) or catch_up (a partition "
                                              "assigned again, from where this worker last read it)",
                                              ["kind", "how"], registry=r)
        self.subject_secrets = Gauge("lethe_subject_secrets", "Per-subject secrets held by this worker",
                                     registry=r)
        self.records_gated = Counter("lethe_records_gated",
                                     "Records held back from an output, by output topic and reason "
                                     "(consent, restrict, object, quarantine)", ["topic", "reason"], registry=r)
        self.minors_found = Counter("lethe_minors_found",
                                    "Subjects found under the policy's age by a date of birth, by source topic; a "
                                    "minor_flag request is filed for each (docs/rights.md)", ["topic"], registry=r)
        self.registry_unavailable = Counter("lethe_schema_registry_unavailable",
                                            "Batches that waited because the schema registry did not answer a "
                                            "schema id lookup (retried; nothing dead-lettered)", ["topic"],
                                            registry=r)
        self.unknown_fields = Counter("lethe_unknown_fields",
                                      "Input records with a field their schema does not declare (dropped from "
                                      "every output), by input topic and field path (a name, never a value; at most "
                                      "50 paths per topic, then <other>)", ["topic", "path"], registry=r)
        self.unknown_personal = Counter("lethe_unknown_fields_personal",
                                        "Batches in which an unknown field held personal data the free-text "
                                        "detectors found, by input topic, field path and data category",
                                        ["topic", "path", "category"], registry=r)
        # retention (issue 3): timers, holds, commands
        self.timers_pending = Gauge("lethe_retention_timers_pending",
                                    "Retention deadlines pending on this worker (including held ones)", registry=r)
        self.timers_held = Gauge("lethe_retention_timers_held",
                                 "Due retention deadlines suspended by a legal hold", registry=r)
        self.timers_scheduled = Counter("lethe_retention_timers_scheduled",
                                        "Retention deadlines set or moved, by rule", ["rule"], registry=r)
        self.timers_unscheduled = Counter("lethe_retention_timers_unscheduled",
                                          "Records under a retention rule whose time did not parse",
                                          ["family"], registry=r)
        self.timers_fired = Counter("lethe_retention_timers_fired", "Retention deadlines fired, by rule and action",
                                    ["rule", "action"], registry=r)
        self.firing_lateness = Histogram("lethe_retention_firing_lateness_seconds",
                                         "From a deadline to its command being published",
                                         ["rule"], buckets=LATENESS_BUCKETS, registry=r)
        self.holds_active = Gauge("lethe_legal_holds_active", "Legal holds in force on this worker's partitions",
                                  registry=r)
        self.commands_emitted = Counter("lethe_lifecycle_commands_emitted",
                                        "Lifecycle commands published, by action and cause", ["action", "cause"],
                                        registry=r)
        self.acks = Counter("lethe_lifecycle_acks", "Store agents' acks seen, by store and status",
                            ["store", "status"], registry=r)
        self.commands_unacked = Gauge("lethe_lifecycle_commands_unacked",
                                      "Commands this worker published that no store has acked yet", registry=r)
        self.oldest_unacked = Gauge("lethe_lifecycle_oldest_unacked_seconds",
                                    "Age of the oldest command this worker published that no store has acked",
                                    registry=r)
        # rights requests (issue 4)
        self.requests_received = Counter("lethe_requests_received", "Rights requests accepted, by type", ["type"],
                                         registry=r)
        self.requests_open = Gauge("lethe_requests_open", "Open rights requests on this worker, by type and status",
                                   ["type", "status"], registry=r)
        self.requests_overdue = Gauge("lethe_requests_overdue", "Open rights requests past their due date",
                                      registry=r)
        self.request_oldest_open = Gauge("lethe_request_oldest_open_seconds",
                                         "Age of the oldest open rights request on this worker", registry=r)
        self.request_seconds_to_due = Gauge("lethe_request_seconds_to_due",
                                            "Seconds until the due date of the open rights request due soonest on "
                                            "this worker, by type, among those not yet past it (no series: none)",
                                            ["type"], registry=r)
        self.erasure_seconds = Histogram("lethe_erasure_completion_seconds",
                                         "From an erase request to the last store's ack",
                                         buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
                                                  86_400.0, 7 * 86_400.0), registry=r)
        self.requests_failed = Counter("lethe_requests_failed", "Rights requests Lethe could not act on, by type",
                                       ["type"], registry=r)
        self.request_retries = Counter("lethe_request_retries",
                                       "Request commands sent again because a store did not ack in time",
                                       ["type"], registry=r)
        self.consent_decisions = Counter("lethe_consent_decisions", "Consent decisions recorded, by purpose",
                                         ["purpose", "decision"], registry=r)
        self.session_choices = Gauge("lethe_session_choices",
                                     "Sessions whose cookie-banner choices this worker holds (every worker holds all)",
                                     registry=r)
        self.session_choices_expired = Counter("lethe_session_choices_expired",
                                               "Session banner choices forgotten at [consent] session_choice_max_age",
                                               registry=r)
        # partners, sharing ledger and transfers (issue 12)
        self.shares = Counter(
            "lethe_shares", "Records published to a partner, counted once per data category they carry",
            ["partner", "category"], registry=r)
        self.partner_unacked = Gauge("lethe_partner_commands_unacked",
                                     "Erasure and rectification commands for a partner that its store agent has not "
                                     "acked yet", ["partner"], registry=r)
        self.partner_oldest_unacked = Gauge("lethe_partner_oldest_unacked_seconds",
                                            "Age of the oldest command for a partner that its store agent has not "
                                            "acked; 0 when none is pending", ["partner"], registry=r)
        self.transfers = Counter("lethe_transfers",
                                 "Records bound for an output or partner, by the record's origin region, the output's "
                                 "destination region and the transfer decision (allow, pseudonymize, block)",
                                 ["output", "origin", "destination", "decision"], registry=r)
        self.info = Gauge("lethe_info", "Lethe worker information", ["policy_version", "encoding"],
                          registry=r)

    # -- health ----------------------------------------------------------------------------------
    heartbeat: float = 0.0          # set by the process's main loop; stale = the loop is stuck
    ready_reason: str = "starting"  # "" once the process serves (partitions restored, consumer up)
    disconnected: str = ""          # why not, while the broker is unreachable (streams/connection.py)

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def liveness(self) -> tuple[bool, str]:
        age = time.monotonic() - self.heartbeat
        if self.heartbeat and age > STALE_AFTER_S:
            return False, f"main loop has not run for {age:.0f}s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        reason = self.ready_reason or self.disconnected
        return (True, "ready") if not reason else (False, reason)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """/metrics, and /healthz (liveness) and /readyz (readiness) on the same port."""
        metrics_app = make_wsgi_app(self.registry)
        checks = {"/healthz": self.liveness, "/livez": self.liveness, "/readyz": self.readiness}

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            check = checks.get(environ.get("PATH_INFO", ""))
            if check is None:
                return metrics_app(environ, start_response)
            ok, message = check()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain; charset=utf-8")])
            return [message.encode() + b"\n"]

        try:
            server = make_server(addr, port, app, _Server, handler_class=_Quiet)
        except OSError as exc:
            raise port_error(port, exc) from None
        threading.Thread(target=server.serve_forever, name="lethe-http", daemon=True).start()


STALE_AFTER_S = 60.0


def port_error(port: int, exc: OSError) -> ConfigError:
    reason = "already in use (is another Lethe process running?)" if exc.errno == errno.EADDRINUSE else exc.strerror
    return ConfigError(f"LETHE_METRICS_PORT={port}: cannot serve /metrics there, port {reason}; "
                       "stop that process, or set LETHE_METRICS_PORT to a free port (0 = off)")


def check_port_free(port: int, addr: str = "0.0.0.0") -> None:
    """Fail at start-up, before the broker is touched, when the metrics port is taken (the server binds
    it later, inside the running worker, where an error would be a traceback)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the server does
        try:
            probe.bind((addr, port))
        except OSError as exc:
            raise port_error(port, exc) from None


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:   # scrapes are not worth a log line
        pass


class BrokerMetrics(Metrics):
    """`lethe broker`'s endpoints: /healthz while the broker child process lives, /readyz while it
    answers Kafka requests, /metrics with ``lethe_broker_up`` and the child's process metrics."""

    def __init__(self, pid: Callable[[], int], alive: Callable[[], bool], answers: Callable[[], bool],
                 registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry, worker=False)
        self._alive, self._answers = alive, answers
        up = Gauge("lethe_broker_up", "1 while the embedded broker answers Kafka requests", registry=self.registry)
        up.set_function(lambda: float(self._answers()))
        # the child's CPU, memory, file descriptors and start time (read from /proc; none once it exited)
        ProcessCollector(namespace="lethe_broker", pid=pid, registry=self.registry)

    def liveness(self) -> tuple[bool, str]:
        return (True, "ok") if self._alive() else (False, "the broker process has exited")

    def readiness(self) -> tuple[bool, str]:
        if not self._alive():
            return False, "the broker process has exited"
        return (True, "ready") if self._answers() else (False, "the broker does not answer Kafka requests")


class SupervisorMetrics(Metrics):
    """`lethe run --processes N`'s endpoints on LETHE_METRICS_PORT: /healthz while its loop runs, /readyz
    when every worker process answers its own /readyz (``readiness``), /metrics with the supervisor's
    series; each worker process serves its own /metrics on the next ports (docs/operations.md)."""

    def __init__(self, processes: int, readiness: Callable[[], tuple[bool, str]],
                 registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry, worker=False)
        self._readiness = readiness
        r = self.registry
        self.processes_wanted = Gauge("lethe_worker_processes_desired",
                                      "Worker processes this supervisor runs (--processes, LETHE_PROCESSES)",
                                      registry=r)
        self.processes_wanted.set(processes)
        self.processes_running = Gauge("lethe_worker_processes_running",
                                       "Worker processes of this supervisor that are running now", registry=r)
        self.restarts = Counter("lethe_worker_process_restarts",
                                "Worker processes restarted after they exited unasked (crash, kill, error)",
                                registry=r)

    def readiness(self) -> tuple[bool, str]:
        return self._readiness()


def store_agent_metrics(metrics: Metrics) -> tuple[Counter, Gauge]:
    """The store agent's own series, on its registry."""
    commands = Counter("lethe_store_commands", "Lifecycle commands handled by this store agent",
                       ["store", "action", "status"], registry=metrics.registry)
    oldest = Gauge("lethe_store_oldest_unacked_seconds",
                   "Age (since issue) of the command this store agent is applying and has not acked; 0 when idle",
                   ["store"], registry=metrics.registry)
    return commands, oldest


def sink_metrics(metrics: Metrics) -> tuple[Counter, Counter]:
    """The reference sink's own series, on its registry."""
    written = Counter("lethe_sink_rows_written", "Rows the reference sink wrote (inserted or updated), by table",
                      ["table"], registry=metrics.registry)
    skipped = Counter("lethe_sink_records_skipped", "Invalid input records the reference sink skipped, by table",
                      ["table"], registry=metrics.registry)
    for table in ("orders", "logs"):   # the series exist from the start, at 0
        written.labels(table)
        skipped.labels(table)
    return written, skipped
