"""The `lethe` command as a user runs it: separate broker and worker processes, JSON over the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from leaky import LeakyTraffic, leaks
from support import REPO, unique_prefix

from processors.sample import malformed_records
from streams.broker import EmbeddedBroker, free_port
from streams.cli import build_parser
from streams.cli.helptext import subcommands
from streams.client import read

LETHE = str(Path(sys.executable).parent / "lethe")


def lethe(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
          stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([LETHE, *args], env=env or dict(os.environ), cwd=REPO, input=stdin,
                          capture_output=True, timeout=timeout, check=False)


def test_help_lists_the_commands() -> None:
    result = lethe("--help")
    assert result.returncode == 0
    for command in (b"run", b"broker", b"demo", b"publish", b"consume", b"topics", b"hold", b"store-agent", b"sink",
                    b"request"):
        assert command in result.stdout
    assert b"LETHE_BOOTSTRAP_SERVERS" in result.stdout


SUBCOMMANDS = [path for path, _ in subcommands(build_parser())]


def test_every_subcommand_is_listed_for_its_help_test() -> None:
    assert {"run", "topics create", "consume", "publish", "demo", "sink", "store-agent", "request", "hold",
            "broker", "topics"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_help_says_what_it_does_with_an_example(command: str) -> None:
    result = lethe(*command.split(), "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    usage, _, rest = out.partition("\n\n")
    description = rest.split("\n\n")[0]
    assert usage.startswith(f"usage: lethe {command}")
    # a paragraph between the usage and the arguments, in words, not the argument list
    assert not description.startswith(("positional arguments:", "options:")), out
    assert len(description.split()) >= 5, out
    # and at least one example that runs this very command
    examples = out.partition("examples:\n")[2]
    assert f"lethe {command}" in examples, out


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("LETHE_METRICS_PORT", "nine", b"LETHE_METRICS_PORT='nine' is not an integer"),
    ("LETHE_BOOTSTRAP_SERVERS", "kafka-without-port", b"is not host:port"),
    ("LETHE_POLICY", "/nonexistent/policy.toml", b"LETHE_POLICY=/nonexistent/policy.toml: no such file"),
    ("LETHE_STORE_URL", "not a url", b"LETHE_STORE_URL is not a SQLAlchemy URL"),
    ("LETHE_PSEUDONYM_KEY", "xyz", b"LETHE_PSEUDONYM_KEY must be hex"),
    # the Faust-agents ingest mode enforced no gate, retention, hold or request: it was removed
    ("LETHE_INGEST", "faust", b"LETHE_INGEST='faust': this ingest mode was removed"),
    ("LETHE_INGEST", "agents", b"LETHE_INGEST='agents': this ingest mode was removed"),
])
def test_a_bad_setting_stops_start_up_naming_it(tmp_path: Path, variable: str, value: str, message: bytes) -> None:
    env = dict(os.environ, LETHE_DATA_DIR=str(tmp_path), **{variable: value})
    result = lethe("run", env=env, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_bad_policy_stops_start_up_naming_the_entry(tmp_path: Path) -> None:
    policy = (REPO / "deploy" / "policy.toml").read_text()
    bad = policy.replace('"geo.lat"', '"geo.lat"').replace('"device.model" = "drop"', '"geo.lat" = "mask"')
    path = tmp_path / "policy.toml"
    path.write_text(bad)
    env = dict(os.environ, LETHE_DATA_DIR=str(tmp_path), LETHE_POLICY=str(path),
               LETHE_BOOTSTRAP_SERVERS="127.0.0.1:1")
    result = lethe("run", env=env, timeout=60)
    assert result.returncode == 2
    assert b'outputs."logs.anonymized.v1".fields."geo.lat"' in result.stderr
    assert b"needs a string field" in result.stderr


@pytest.fixture(scope="module")
def cli_broker() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([LETHE, "broker", "--port", str(port)], cwd=REPO,
                               env=dict(os.environ, LETHE_METRICS_PORT=str(free_port())),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert b"listening" in line, line
    yield f"127.0.0.1:{port}"
    process.send_signal(signal.SIGINT)
    # `lethe broker` gives the broker 5 s to stop on SIGTERM, then kills it; a busy machine adds to that
    process.wait(30)


def test_the_broker_stops_on_sigint_even_started_with_it_ignored() -> None:
    """A shell script's background job (`lethe broker &`) starts with SIGINT ignored; it must stop anyway."""
    process = subprocess.Popen([LETHE, "broker", "--port", str(free_port())], cwd=REPO,
                               env=dict(os.environ, LETHE_METRICS_PORT="0"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert process.stdout is not None
    assert b"listening" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_broker_run_publish_consume_as_a_user(cli_broker: str, examples_dir: Path, tmp_path: Path) -> None:
    metrics_port = free_port()
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=cli_broker, LETHE_METRICS_PORT=str(metrics_port),
               LETHE_STORE_URL=f"sqlite:///{tmp_path / 'store.db'}", LETHE_DATA_DIR=str(tmp_path),
               LETHE_SESSION_TIMEOUT_S="4")
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen([LETHE, "run"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        traffic = LeakyTraffic(examples_dir, seed=99)
        people = [traffic.person(n) for n in range(8)]
        orders = tmp_path / "orders.jsonl"
        orders.write_text("\n".join(json.dumps(traffic.order(p), ensure_ascii=False) for p in people))
        logs = tmp_path / "logs.json"
        logs.write_text(json.dumps([traffic.log(p) for p in people], ensure_ascii=False))
        assert lethe("publish", "orders.v1", str(orders), env=env).returncode == 0
        assert lethe("publish", "logs.v1", str(logs), env=env).returncode == 0
        assert lethe("publish", "orders.v1", "--example", "--encoding", "avro", env=env).returncode == 0
        for _, raw in malformed_records()[:3]:
            assert lethe("publish", "orders.v1", env=env, stdin=raw).returncode in (0, 2)

        def consume(topic: str, expect: int) -> list[dict[str, object]]:
            result = lethe("consume", topic, "--max", str(expect), "--timeout", "60", env=env)
            assert result.returncode == 0, result.stderr
            return [json.loads(line) for line in result.stdout.splitlines()]

        anonymized_orders = consume("orders.anonymized.v1", len(people) + 1)
        anonymized_logs = consume("logs.anonymized.v1", len(people))
        assert len(anonymized_orders) == len(people) + 1
        assert len(anonymized_logs) == len(people)
        for record in anonymized_orders + anonymized_logs:
            assert leaks(json.dumps(record, ensure_ascii=False).encode(), traffic.secrets) == []
        order_keys = {r["key"] for r in anonymized_orders}
        log_keys = {r["key"] for r in anonymized_logs}
        assert log_keys <= order_keys
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "lethe_records_in_total" in text and "lethe_fields_tagged_total" in text
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-2000:]
    assert leaks((tmp_path / "worker.log").read_bytes(), traffic.secrets) == []


def test_broker_serves_metrics_health_and_readiness_and_stops_on_sigterm() -> None:
    metrics_port, kafka_port = free_port(), free_port()
    broker = subprocess.Popen([LETHE, "broker", "--port", str(kafka_port)], cwd=REPO,
                              env=dict(os.environ, LETHE_METRICS_PORT=str(metrics_port)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert broker.stdout is not None
        printed = b"".join(broker.stdout.readline() for _ in range(4))
        assert f"/metrics, /healthz and /readyz on :{metrics_port} (LETHE_METRICS_PORT)".encode() in printed, printed

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}{path}", timeout=5) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()

        assert get("/healthz") == (200, "ok\n")
        assert get("/readyz") == (200, "ready\n")
        status, text = get("/metrics")
        assert status == 200
        assert "lethe_broker_up 1.0" in text
        assert "lethe_broker_process_resident_memory_bytes" in text   # the broker child's, read from /proc
        broker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert broker.wait(30) == 0
        assert time.monotonic() - started < 10   # a generous bound: it stops at once
    finally:
        if broker.poll() is None:
            broker.kill()
            broker.wait(10)
    with pytest.raises(OSError):   # the endpoint went with it
        urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=2)


def test_demo_shows_anonymized_events(tmp_path: Path) -> None:
    env = dict(os.environ, LETHE_DATA_DIR=str(tmp_path), LETHE_METRICS_PORT=str(free_port()),
               LETHE_SESSION_TIMEOUT_S="4")
    result = lethe("demo", "--events", "300", env=env, timeout=240)   # a demo that hangs fails here
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout.decode()
    assert "309/309 records accounted for" in out
    assert "orders.anonymized.v1" in out and "logs.anonymized.v1" in out and "dlq.v1" in out
    assert "(rule max_depth)" in out


def test_run_without_a_broker_starts_the_embedded_one_and_stops_cleanly(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LETHE_BOOTSTRAP_SERVERS"}
    # a data dir that does not exist yet, and a key from the environment (so no key file makes it)
    env.update(LETHE_DATA_DIR=str(tmp_path / "new" / "dir"), LETHE_METRICS_PORT=str(metrics_port),
               LETHE_PSEUDONYM_KEY="ab" * 32)
    worker = subprocess.Popen([LETHE, "run"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline and "lethe_info" not in text:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as response:
                    text = response.read().decode()
            except OSError:
                assert worker.poll() is None, worker.stdout.read() if worker.stdout else b""
        assert "lethe_info" in text
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output[-2000:]
    assert b"started the embedded broker" in output
    assert b"pseudonym key from LETHE_PSEUDONYM_KEY" in output
    assert b"abab" not in output
    assert b"Traceback" not in output


def test_hold_places_and_releases_through_the_cli(broker: EmbeddedBroker, tmp_path: Path) -> None:
    prefix = unique_prefix("holdcli")
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=prefix,
               LETHE_DATA_DIR=str(tmp_path))
    assert lethe("topics", "create", env=env).returncode == 0
    missing = lethe("hold", "release", "--customer", "cust-1", env=env)
    assert missing.returncode == 2 and b"--hold-id" in missing.stderr
    no_case = lethe("hold", "place", "--customer", "cust-1", env=env)
    assert no_case.returncode == 2 and b"--case" in no_case.stderr
    placed = lethe("hold", "place", "--customer", "cust-1", "--order", "ORD-1", "--case", "LIT-7", env=env)
    assert placed.returncode == 0, placed.stderr
    hold_id = placed.stdout.split()[0].decode()
    released = lethe("hold", "release", "--customer", "cust-1", "--hold-id", hold_id, env=env)
    assert released.returncode == 0, released.stderr
    events = [(r.key, json.loads(r.value or b"")) for r in read(broker.bootstrap, [prefix + "legal-holds.v1"],
                                                                expect=2, timeout=30)]
    assert [(k, e["action"], e["hold_id"], e["order_id"]) for k, e in events] == [
        (b"cust-1", "place", hold_id, "ORD-1"), (b"cust-1", "release", hold_id, None)]


def test_publish_keys_a_record_of_no_customer_by_its_session(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A cookie-banner choice before login, and an anonymous log, are keyed by their session: the worker keeps
    a session's choice where its key puts it (docs/rights.md, "Cookie-banner choices before login")."""
    prefix = unique_prefix("sessionkey")
    env = dict(os.environ, LETHE_BOOTSTRAP_SERVERS=broker.bootstrap, LETHE_TOPIC_PREFIX=prefix,
               LETHE_DATA_DIR=str(tmp_path), LETHE_METRICS_PORT="0")
    choice = {"event_id": "banner-1", "occurred_at": "2026-11-20T10:00:00Z", "customer_id": None,
              "session_id": "sess-anon-77", "purpose": "cookies_analytics", "granted": False,
              "policy_version": "2026-11-01", "source": "cookie_banner"}
    customer = dict(choice, event_id="banner-2", customer_id="cust-77")
    path = tmp_path / "choices.jsonl"
    path.write_text(json.dumps(choice) + "\n" + json.dumps(customer) + "\n")
    result = subprocess.run([sys.executable, "-m", "streams.cli", "publish", "consent.v1", str(path)], cwd=REPO,
                            env=env, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    keys = sorted(r.key or b"" for r in read(broker.bootstrap, [prefix + "consent.v1"], expect=2, timeout=30))
    assert keys == [b"cust-77", b"sess-anon-77"]
