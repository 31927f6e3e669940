"""Alert rules under promtool, and a real Prometheus scraping a running worker, store agent and sink.

promtool and prometheus come from Debian's `prometheus` package, which scripts/services installs;
these tests fail (not skip) without them, as CI must run them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine
from support import REPO, Service, Worker, unique_prefix, wait_for

from processors.sample import Traffic
from streams.broker import EmbeddedBroker, free_port
from streams.client import publish
from streams.store.sink import metadata

PROMETHEUS_DIR = REPO / "deploy" / "prometheus"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is missing: install Debian's prometheus package (scripts/services does)"
    return path


def test_alert_rules_pass_promtool_check() -> None:
    result = subprocess.run([tool("promtool"), "check", "rules", "alerts.yml"], cwd=PROMETHEUS_DIR,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests() -> None:
    result = subprocess.run([tool("promtool"), "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS_DIR,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_expects_it_to_fire() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())
    firing = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    assert alerts == firing


def test_every_alert_has_a_runbook_line_in_the_operations_guide() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    rows = [line for line in (REPO / "docs" / "operations.md").read_text().splitlines() if line.startswith("| `Lethe")]
    documented = {name for row in rows for name in re.findall(r"`(Lethe[A-Za-z]+)`", row.split(" | ")[0])}
    assert alerts == documented


def test_the_scrape_config_loads_the_rules_and_scrapes_workers_store_agents_and_sinks() -> None:
    result = subprocess.run([tool("promtool"), "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    assert {job["job_name"] for job in config["scrape_configs"]} == {"lethe-worker", "lethe-store-agent", "lethe-sink"}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def query(port: int, promql: str) -> list[dict[str, Any]]:
    status, body = get(f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(promql)}")
    if status != 200:
        return []
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result


def value(port: int, promql: str) -> float | None:
    result = query(port, promql)
    return float(result[0]["value"][1]) if result else None


def test_a_real_prometheus_sees_lethe_series_move(broker: EmbeddedBroker, examples_dir: Path,
                                                  tmp_path: Path) -> None:
    prefix = unique_prefix("prom")
    worker = Worker(broker.bootstrap, prefix, tmp_path).start()
    engine = create_engine(worker.env["LETHE_STORE_URL"])
    metadata.create_all(engine)   # the reference sink's tables, which the default mapping names
    engine.dispose()
    agent_port = free_port()
    agent = Service("store-agent", {**worker.env, "LETHE_METRICS_PORT": str(agent_port)}, tmp_path / "agent.log")
    sink_port = free_port()
    sink = Service("sink", {**worker.env, "LETHE_METRICS_PORT": str(sink_port)}, tmp_path / "sink.log")
    # Lethe's own configuration, with its targets pointed at the processes of this test
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    ports = {"lethe-worker": worker.metrics_port, "lethe-store-agent": agent_port, "lethe-sink": sink_port}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    port = free_port()
    server = subprocess.Popen([tool("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                               f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, 60, "prometheus to start")
        # health endpoints next to /metrics
        assert get(f"http://127.0.0.1:{worker.metrics_port}/healthz") == (200, "ok\n")
        wait_for(lambda: get(f"http://127.0.0.1:{worker.metrics_port}/readyz")[0] == 200, 60, "the worker ready")
        wait_for(lambda: get(f"http://127.0.0.1:{agent_port}/readyz")[0] == 200, 60, "the agent ready")
        wait_for(lambda: get(f"http://127.0.0.1:{sink_port}/readyz")[0] == 200, 60, "the sink ready")
        assert get(f"http://127.0.0.1:{sink_port}/healthz") == (200, "ok\n")

        wait_for(lambda: value(port, 'sum(up{job="lethe-worker"})') == 1.0, 60, "the worker scraped")
        wait_for(lambda: value(port, 'sum(up{job="lethe-store-agent"})') == 1.0, 60, "the agent scraped")
        wait_for(lambda: value(port, 'sum(up{job="lethe-sink"})') == 1.0, 60, "the sink scraped")
        assert value(port, 'sum(lethe_sink_rows_written_total{job="lethe-sink"})') == 0.0
        assert query(port, "lethe_info") and query(port, "lethe_retention_timers_pending")
        assert query(port, 'lethe_store_oldest_unacked_seconds{job="lethe-store-agent"}')

        traffic = Traffic(examples_dir, subjects=20)
        events = [("orders.v1", traffic.order()) for _ in range(150)] + [("logs.v1", traffic.log()) for _ in range(150)]
        publish(broker.bootstrap, [(prefix + t, e["customer_id"].encode() if e["customer_id"] else None,
                                    json.dumps(e).encode()) for t, e in events])
        wait_for(lambda: value(port, "sum(lethe_records_in_total)") == 300.0, 60, "records_in to reach 300")
        wait_for(lambda: (value(port, "sum(lethe_records_out_total)") or 0) >= 300, 30, "records_out to move")
        wait_for(lambda: (value(port, "sum(rate(lethe_records_in_total[30s]))") or 0) > 0, 30, "a rate")
        assert (value(port, 'sum(lethe_fields_tagged_total{category="contact.email"})') or 0) > 0
        assert (value(port, "sum(lethe_retention_timers_pending)") or 0) > 0   # the default policy's deadlines
        # the sink's rows-written counter moves, per table (one row per event: each has its own key)
        wait_for(lambda: value(port, 'sum(lethe_sink_rows_written_total{table="logs"})') == 150.0, 60,
                 "the sink's logs rows counter")
        wait_for(lambda: (value(port, 'sum(lethe_sink_rows_written_total{table="orders"})') or 0) > 0, 60,
                 "the sink's orders rows counter")

        # the store agent's series move when it applies a command
        command = {"command_id": "prom-1", "issued_at": "2026-11-24T00:00:00Z", "action": "delete",
                   "subject": "nobody", "selector": {"family": "orders", "record_key": None}, "categories": [],
                   "fields": [], "updates": {}, "rule": "r", "cause": "request", "due_at": "2026-11-24T00:00:00Z"}
        publish(broker.bootstrap, [(prefix + "lifecycle.commands.v1", b"nobody", json.dumps(command).encode())])
        wait_for(lambda: value(port, 'sum(lethe_store_commands_total{status="not_found"})') == 1.0, 60,
                 "the agent's command counter")

        rules = json.loads(get(f"http://127.0.0.1:{port}/api/v1/rules")[1])["data"]["groups"]
        assert sum(len(group["rules"]) for group in rules) >= 10
        assert all(rule["health"] == "ok" for group in rules for rule in group["rules"])
    finally:
        server.terminate()
        server.wait(30)
        assert sink.stop() == 0, sink.log()[-2000:]
        assert agent.stop() == 0, agent.log()[-2000:]
        assert worker.stop() == 0, worker.log()[-2000:]
