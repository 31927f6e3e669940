"""``lethe demo``: the embedded broker, a real worker process, sample traffic and what came out.

SIGTERM or Ctrl-C stops the demo and its children (worker, sink, store agents, broker); the children
also get SIGTERM if the demo itself dies (Linux), so a stopped demo leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from typing import Any

from processors.sample import Traffic, invalid_enum, malformed_records
from streams.broker import EmbeddedBroker, _die_with_parent, free_port
from streams.client import publish, read
from streams.demo_partners import start_partner_agents
from streams.settings import Settings
from streams.supervisor import stop_children
from streams.text import plural
from streams.topics import ensure_topics


def say(message: str) -> None:
    print(message, flush=True)


# a child's log file by its command: the name printed is the name written
LOG_NAMES = {"run": "demo-worker.log", "sink": "demo-sink.log", "store-agent": "demo-store-agent.log"}
STOP_TIMEOUT_S = 10.0
# with --keep-running: `. .lethe/demo.env` in another shell points the CLI at the demo; gone once it stops
ENV_FILE = "demo.env"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt   # SIGTERM as Ctrl-C: unwinds through the finally blocks that stop the children


def run_demo(settings: Settings, events: int, subjects: int, keep_running: bool = False) -> int:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    env_file = settings.data_dir / ENV_FILE
    env_file.unlink(missing_ok=True)   # one left by a killed demo points at a broker that is gone
    try:
        return _run_demo(settings, events, subjects, keep_running)
    except KeyboardInterrupt:
        say("stopped")
        return 130
    finally:
        env_file.unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, previous)


def _run_demo(settings: Settings, events: int, subjects: int, keep_running: bool) -> int:
    with EmbeddedBroker() as broker:
        say(f"[1/5] embedded broker on {broker.bootstrap}")
        ensure_topics(settings, broker.bootstrap)
        # the default port may be taken by a worker already running here; the demo needs its own
        metrics_port = settings.metrics_port if os.environ.get("LETHE_METRICS_PORT") else free_port()
        log_path = settings.data_dir / LOG_NAMES["run"]
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_METRICS_PORT=str(metrics_port),
                   LETHE_DATA_DIR=str(settings.data_dir))
        # the reference sink and a store agent on a demo database, for retention and rights requests
        store_url = os.environ.get("LETHE_STORE_URL") or f"sqlite:///{(settings.data_dir / 'demo-shop.db').resolve()}"
        processes: list[subprocess.Popen[bytes]] = []
        # every process serves /metrics, /healthz and /readyz, each on a port of its own
        ports = {"run": metrics_port, "sink": free_port(), "store-agent": free_port()}
        try:
            for command, log_name in LOG_NAMES.items():
                extra = {"LETHE_METRICS_PORT": str(ports[command])}
                with open(settings.data_dir / log_name, "wb") as log_file:
                    processes.append(subprocess.Popen([sys.executable, "-m", "streams.cli", command],
                                                      env={**env, "LETHE_STORE_URL": store_url, **extra},
                                                      stdout=log_file, stderr=subprocess.STDOUT,
                                                      preexec_fn=_die_with_parent))
            partners = start_partner_agents(settings, env)   # so that erasures reach them and complete
            processes += [process for _, process in partners]
            if partners:
                say("      partner store agents (demo-partner-*.log): " + ", ".join(name for name, _ in partners))
            say("      /metrics, /healthz, /readyz: " + ", ".join(
                f"{name} :{ports[command]}" for command, name in (("run", "worker"), ("sink", "sink"),
                                                                  ("store-agent", "store agent"))))
            worker = processes[0]
            code = _drive(settings, broker.bootstrap, worker, metrics_port, events, subjects, str(log_path))
            if code == 0 and keep_running:
                _keep_running(settings, broker.bootstrap, store_url, metrics_port, processes)
            return code
        finally:
            stop_children(processes, STOP_TIMEOUT_S)


def _keep_running(settings: Settings, bootstrap: str, store_url: str, metrics_port: int,
                  processes: list[subprocess.Popen[bytes]]) -> None:
    _wait_for_sink(settings, bootstrap)   # a request filed now finds every sample row in the database
    env_file = settings.data_dir / ENV_FILE
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(f"export LETHE_BOOTSTRAP_SERVERS={bootstrap} LETHE_DATA_DIR={settings.data_dir}\n")
    customer = "cust-100003"
    say(f"""
Lethe keeps running: broker {bootstrap}, worker, reference sink and store agent "shop-db" on
{store_url}, and a store agent per partner (demo-partner-*.log: erasures reach the partners that
received the subject). {env_file} points the CLI at it. In another terminal, from this directory:

  . {env_file}          # export LETHE_BOOTSTRAP_SERVERS={bootstrap} LETHE_DATA_DIR={settings.data_dir}
  ID=$(.venv/bin/lethe request erase --customer {customer})     # prints the request id
  .venv/bin/lethe request status $ID --wait 60       # received -> in_progress -> completed
  .venv/bin/lethe request access --customer cust-100004 --out {settings.data_dir / "exports"}/
  .venv/bin/lethe consume privacy.audit.v1 --timeout 3      # the audit trail
  curl -s localhost:{metrics_port}/metrics | grep -E '^lethe_(requests|erasure)'

Ctrl-C (or SIGTERM to pid {os.getpid()}) stops everything.""")
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1.0)
        say("a demo process exited; see the demo-*.log files in " + str(settings.data_dir))
    except KeyboardInterrupt:
        say("stopping")


def _wait_for_sink(settings: Settings, bootstrap: str, timeout: float = 60.0) -> None:
    """Until the reference sink has committed everything published to its input topics."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"{settings.app_id}.sink",
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for topic in (settings.topics.orders, settings.topics.name("logs.v1"))
               for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while any((consumer.committed(tp) or 0) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                say(f"the reference sink has not caught up in {timeout:.0f} s; see demo-sink.log")
                return
            time.sleep(0.5)
    finally:
        consumer.close()


def _drive(settings: Settings, bootstrap: str, worker: subprocess.Popen[bytes], metrics_port: int,
           events: int, subjects: int, log_path: str) -> int:
    say(f"[2/5] worker started (pid {worker.pid}, log {log_path}, metrics :{metrics_port}/metrics)")
    traffic = Traffic(settings.schemas_dir / "examples", subjects=subjects)
    originals: dict[str, dict[str, Any]] = {}
    records: list[tuple[str, bytes | None, bytes | None]] = []
    for topic, event in traffic.stream(events):
        originals[event["event_id"]] = event
        key = event.get("customer_id")
        records.append((settings.topics.name(topic), key.encode() if key else None, json.dumps(event).encode()))
    bad = [*malformed_records(), ("unknown enum value", invalid_enum(traffic))]
    records += [(settings.topics.orders, None, raw) for _, raw in bad]
    publish(bootstrap, records)
    total = len(records)
    say(f"[3/5] published {plural(events, 'sample event')} for {plural(subjects, 'customer')} and "
        f"{plural(len(bad), 'malformed record')}")

    outputs = [settings.topics.name("orders.anonymized.v1"), settings.topics.name("logs.anonymized.v1")]
    seen: Counter[str] = Counter()
    samples: dict[str, Any] = {}
    reasons: list[str] = []
    last_report = time.monotonic()
    for record in read(bootstrap, [*outputs, settings.topics.dlq], expect=total, timeout=120):
        if worker.poll() is not None:
            say(f"the worker exited with code {worker.returncode}; see {log_path}")
            return 1
        seen[record.topic] += 1
        if record.topic == settings.topics.dlq:
            reasons.append(f"{record.headers.get('field_path', b'').decode() or '<record>'}: "
                           f"{record.headers['reason'].decode()} (rule {record.headers['rule'].decode()})")
        elif record.topic not in samples and record.value:
            samples[record.topic] = json.loads(record.value)
        if time.monotonic() - last_report > 2:
            say(f"      ... {sum(seen.values())}/{total} records out")
            last_report = time.monotonic()
    done = sum(seen.values())
    say(f"[4/5] {done}/{total} records accounted for: " + ", ".join(f"{t} {n}" for t, n in sorted(seen.items())))
    for topic, anonymized in sorted(samples.items()):
        original = originals.get(anonymized["event_id"])
        say(f"\n--- one record, before (raw input) and after ({topic}) ---")
        say(json.dumps(original, indent=2, ensure_ascii=False))
        say(json.dumps(anonymized, indent=2, ensure_ascii=False))
    say("\n--- dead-lettered with a reason (dlq.v1 headers; no personal values) ---")
    for reason in reasons:
        say(f"  {reason}")
    say(f"\n[5/5] metrics from http://127.0.0.1:{metrics_port}/metrics:")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(("lethe_records_in_total", "lethe_records_out_total",
                                    "lethe_records_dead_lettered_total")):
                    say(f"  {line}")
    except OSError as exc:
        say(f"  (metrics not reachable: {exc})")
    if done != total:
        say(f"only {done} of {total} records came out; see {log_path}")
        return 1
    return 0
