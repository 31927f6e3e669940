"""The whole pipeline, fed personal values no code has seen, leaks none of them where it must not.

A worker, the reference sink, a store agent and the partners' store agents run on the embedded
broker with a policy whose retention deadlines are seconds. They get leaky orders and logs,
malformed and invalid records that quote personal values, consent events, a legal hold, and
erase, rectify and access requests whose free text carries personal data. Then every log line of
every process, every metric (labels included) of the worker and the store agent, every DLQ header
and the DLQ's values as stored (sealed), every ack, the sharing ledger (but for the subject id it is
keyed by) and every command-line output are scanned for those values; and `lethe dlq show`, which
opens the dead letters for an operator, shows none of the erased subject's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from leaky import LeakyTraffic, leaks
from support import REPO, Service, Worker, policy_with, unique_prefix, wait_for

from processors.sample import malformed_records
from streams.broker import EmbeddedBroker, free_port
from streams.client import publish, read
from streams.demo_partners import demo_partner_mapping, partner_store_url

LETHE = str(Path(sys.executable).parent / "lethe")
RULES = """
[retention."orders-completed"]
family = "orders"
trigger = "order_event"
on = ["placed", "completed"]
after = "6s"
action = "anonymize"

[retention."logs"]
family = "logs"
trigger = "event_time"
after = "6s"
action = "delete"
"""


def metrics_text(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return bytes(response.read())


def test_no_personal_value_reaches_logs_metrics_dlq_headers_acks_or_cli_output(
        broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path) -> None:
    prefix = unique_prefix("leaks")
    traffic = LeakyTraffic(examples_dir, seed=11)
    people = [traffic.person(n) for n in range(12)]
    worker = Worker(broker.bootstrap, prefix, tmp_path, LETHE_POLICY=str(policy_with(tmp_path, RULES)),
                    LETHE_LOG_LEVEL="debug").start()
    agent_port = free_port()
    env = {**worker.env, "LETHE_METRICS_PORT": "0"}
    sink = Service("sink", env, tmp_path / "sink.log")
    agent = Service("store-agent", {**env, "LETHE_METRICS_PORT": str(agent_port)}, tmp_path / "agent.log")
    # the partners that receive the subjects' orders ack their erasures and rectifications too
    partners = [Service("store-agent", {**env, "LETHE_STORE_URL": partner_store_url(tmp_path, name)},
                        tmp_path / f"partner-{name}.log", "--commands-topic", f"partners.{name}.commands.v1",
                        "--name", f"partner.{name}", "--mapping",
                        str(demo_partner_mapping(tmp_path, name, f"partner.{name}", "orders.v1", "orders")))
                for name in ("parcelco", "paynow")]
    cli_output: list[bytes] = []

    def lethe(*args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([LETHE, *args], env=env, cwd=REPO, capture_output=True, timeout=180, check=False)
        cli_output.extend([result.stdout, result.stderr])
        return result

    def send(topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
        publish(broker.bootstrap, [(prefix + topic, key, value) for key, value in records])

    try:
        orders = [traffic.order(p) for p in people]
        logs = [traffic.log(p, anonymous=n % 4 == 0, v6=n % 3 == 0) for n, p in enumerate(people)]
        send("orders.v1", [(o["customer_id"].encode(), json.dumps(o).encode()) for o in orders])
        send("logs.v1", [(e["customer_id"].encode() if e["customer_id"] else None, json.dumps(e).encode())
                         for e in logs])
        # invalid records that quote personal values where a value is expected
        bad_type = {**orders[0], "total_amount": people[0]["email"]}
        bad_enum = {**orders[1], "event_type": people[1]["name"]}
        bad_nested = {**logs[1], "geo": people[1]["street"]}
        # and one of the subject about to be erased, keyed by it: sealed with its secret
        bad_erased = {**orders[4], "total_amount": people[4]["email"]}
        send("orders.v1", [(None, json.dumps(bad_type).encode()), (None, json.dumps(bad_enum).encode()),
                           (people[4]["customer_id"].encode(), json.dumps(bad_erased, ensure_ascii=False).encode()),
                           *[(None, raw) for _, raw in malformed_records()]])
        send("logs.v1", [(None, json.dumps(bad_nested).encode())])
        send("consent.v1", [(p["customer_id"].encode(), json.dumps({
            "event_id": f"c-{n}", "occurred_at": "2026-11-20T10:00:00Z", "customer_id": p["customer_id"],
            "purpose": "cookies_analytics", "granted": n % 2 == 0, "policy_version": "2026-11-01",
            "source": "cookie_banner"}).encode()) for n, p in enumerate(people[:6])])
        send("consent.v1", [(None, json.dumps({"event_id": "c-bad", "customer_id": people[2]["email"]}).encode())])
        assert lethe("hold", "place", "--customer", people[3]["customer_id"], "--case", "LIT-2026-9").returncode == 0
        # the erased subject's dead letter exists before its erasure (a later one would get a new secret)
        wait_for(lambda: worker.metric("lethe_records_dead_lettered_total", topic=prefix + "orders.v1")
                 == 3 + len(malformed_records()), 60, "the orders' dead letters")
        erase = lethe("request", "erase", "--customer", people[4]["customer_id"],
                      "--detail", f"message=please delete me, {people[4]['name']} <{people[4]['email']}>")
        new_email = "fresh.address.9931@quux-new.example"
        traffic.secrets.add(new_email)
        rectify = lethe("request", "rectify", "--customer", people[5]["customer_id"],
                        "--detail", f"contact.email={new_email}")
        for result in (erase, rectify):
            assert result.returncode == 0, result.stderr
            request_id = result.stdout.split()[0].decode()
            status = lethe("request", "status", request_id, "--wait", "90")
            assert json.loads(status.stdout)["status"] == "completed", status.stdout
        access = lethe("request", "access", "--customer", people[6]["customer_id"], "--out", str(tmp_path / "out"))
        assert access.returncode == 0, access.stderr
        cli_output.remove(access.stdout)   # it names the export file, whose content is meant to be personal

        total_in = len(orders) + len(logs) + 4 + len(malformed_records())
        wait_for(lambda: worker.metric("lethe_records_in_total", topic=prefix + "orders.v1")
                 + worker.metric("lethe_records_in_total", topic=prefix + "logs.v1") == total_in, 60, "the input")
        # retention deadlines fire and the store agent applies them (the held subject's stay held)
        wait_for(lambda: worker.metric("lethe_retention_timers_fired_total") >= len(orders) + len(logs) - 2, 60,
                 "the deadlines")
        wait_for(lambda: worker.metric("lethe_lifecycle_commands_unacked") == 0, 60, "every ack")
        shown = subprocess.run([LETHE, "dlq", "show", "--json"], env=env, cwd=REPO, capture_output=True,
                               timeout=180, check=True).stdout   # personal by design: not in cli_output
        worker_metrics = metrics_text(worker.metrics_port)
        agent_metrics = metrics_text(agent_port)
        # an SRE's SIGUSR1 prints the worker's tasks (mode's own printed their local variables: the batch)
        assert worker.process is not None
        worker.process.send_signal(signal.SIGUSR1)
        wait_for(lambda: "ingest.py" in worker.log().partition("worker's")[2], 20, "the tasks printed on SIGUSR1")
    finally:
        codes = [sink.stop(), agent.stop(), *(p.stop() for p in partners)]
        assert worker.stop() == 0, worker.log()[-3000:]
    assert codes == [0, 0, 0, 0], [sink.log()[-2000:], agent.log()[-2000:], *(p.log()[-2000:] for p in partners)]

    dlq = list(read(broker.bootstrap, [prefix + "dlq.v1"], timeout=20, idle=2))
    assert len(dlq) >= 4 + len(malformed_records())
    headers = b"\n".join(k.encode() + b"=" + v for record in dlq for k, v in record.headers.items())
    acks = b"\n".join(r.value or b"" for r in read(broker.bootstrap, [prefix + "lifecycle.acks.v1"], timeout=20,
                                                    idle=2))
    # the ledger names the subject (its id, as the audit trail does) and nothing else of it
    entries = [json.loads(r.value or b"{}") for r in read(broker.bootstrap, [prefix + "privacy.sharing.v1"],
                                                          timeout=20, idle=2)]
    assert entries   # the partners received orders: the ledger has entries to scan
    ledger = json.dumps([{k: v for k, v in e.items() if k != "subject"} for e in entries]).encode()
    secrets = traffic.secrets
    found = {
        "worker log": leaks(worker.log().encode(), secrets),
        "sink log": leaks(sink.log().encode(), secrets),
        "store agent log": leaks(agent.log().encode(), secrets),
        "partner agent logs": leaks(b"\n".join(p.log().encode() for p in partners), secrets),
        "sharing ledger": leaks(ledger, secrets),
        "worker metrics": leaks(worker_metrics, secrets),
        "store agent metrics": leaks(agent_metrics, secrets),
        "DLQ headers": leaks(headers, secrets),
        "DLQ values as stored": leaks(b"\n".join(r.value or b"" for r in dlq), secrets),
        "dead letters of the erased subject, opened": leaks(shown, {people[4][k] for k in (
            "customer_id", "name", "email", "phone")}),
        "acks": leaks(acks, secrets),
        "command-line output": leaks(b"\n".join(cli_output), secrets),
    }
    assert found == {key: [] for key in found}, found
    # and the scan can fail: the other dead letters, opened, are the original records, full of them
    assert leaks(shown, secrets)
    letters = [json.loads(line) for line in shown.splitlines()]
    assert len(letters) == len(dlq) and [x["readable"] for x in letters].count(False) == 1
    assert os.path.getsize(worker.log_path) > 1000   # debug logging was on: there was plenty to scan
