"""The whole pipeline over TLS (policy section 3.2, issue 15): every process as a user runs it.

`lethe topics create`, `lethe run`, `lethe sink`, `lethe store-agent`, `lethe publish`, `lethe
request erase` / `status --wait` and `lethe consume` all connect through stunnel to the embedded
broker (tests/tls_proxy.py), trusting the test's CA through LETHE_KAFKA_SSL_CAFILE; none of them
can reach the broker any other way, since the broker advertises only the TLS port. A wrong CA or
an expired server certificate stops each of them at start-up with one line naming the setting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from support import REPO, Service, Worker, unique_prefix, wait_for
from test_requests import short_rights
from tls_proxy import TlsBroker

from processors.sample import Traffic
from streams.store.sink import orders

pytestmark = pytest.mark.integration

LETHE = str(Path(sys.executable).parent / "lethe")


def test_the_pipeline_runs_over_tls_and_an_erasure_completes(tls_broker: TlsBroker, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'shop.db'}"
    worker = Worker(tls_broker.bootstrap, unique_prefix("tls"), tmp_path, LETHE_POLICY=str(short_rights(tmp_path)),
                    LETHE_STORE_URL=store_url, **tls_broker.env())
    env = {**worker.env, "LETHE_METRICS_PORT": "0"}

    def lethe(*args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([LETHE, *args], env=env, cwd=REPO, capture_output=True, timeout=120, check=False)
        assert result.returncode == 0, (args, result.stderr.decode(errors="replace"))
        return result

    lethe("topics", "create")
    worker.start()
    services = [Service(name, env, tmp_path / f"{name}.log") for name in ("sink", "store-agent")]
    engine = create_engine(store_url)

    def stored() -> set[str]:
        with engine.connect() as conn:
            return {row.customer_id for row in conn.execute(select(orders))}

    try:
        traffic = Traffic(REPO / "schemas" / "examples", subjects=3)
        people = traffic.people
        sent = [traffic.order(person) for person in people]
        (tmp_path / "orders.jsonl").write_text("\n".join(json.dumps(order) for order in sent))
        lethe("publish", "orders.v1", str(tmp_path / "orders.jsonl"))
        everyone = {person.customer_id for person in people}
        wait_for(lambda: stored() == everyone, 90, "the orders in the store")

        erased = people[0].customer_id
        request_id = lethe("request", "erase", "--customer", erased).stdout.split()[0].decode()
        view = json.loads(lethe("request", "status", request_id, "--wait", "90").stdout)
        assert view["status"] == "completed", view
        assert "applied" in view["acks"].values(), view   # the orders table (no logs were sent: not_found)
        assert stored() == everyone - {erased}

        consumed = lethe("consume", "orders.anonymized.v1", "--max", str(len(sent)), "--timeout", "60")
        records = [json.loads(line) for line in consumed.stdout.splitlines()]
        assert sorted(json.loads(r["value"])["event_id"] for r in records) == sorted(o["event_id"] for o in sent)
    finally:
        codes = {service.process.args[-1]: service.stop() for service in services}
        assert worker.stop() == 0, worker.log()[-3000:]
        engine.dispose()
    assert set(codes.values()) == {0}, {name: s.log()[-2000:] for name, s in zip(codes, services, strict=True)}


@pytest.mark.parametrize("command", [("run",), ("store-agent",), ("consume", "orders.v1")], ids=lambda c: c[0])
@pytest.mark.parametrize(("cafile", "address", "message"), [
    ("other_ca", "server", "is not signed by the CA in LETHE_KAFKA_SSL_CAFILE"),
    ("ca", "expired", "has expired"),
], ids=["wrong-ca", "expired"])
def test_a_refused_certificate_stops_each_process_naming_the_setting(
        tls_broker: TlsBroker, tmp_path: Path, command: tuple[str, ...], cafile: str, address: str,
        message: str) -> None:
    env = {**os.environ, "LETHE_DATA_DIR": str(tmp_path),
           "LETHE_STORE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "LETHE_METRICS_PORT": "0",
           "LETHE_BOOTSTRAP_SERVERS": tls_broker.address(address),
           **tls_broker.env(getattr(tls_broker.certificates, cafile))}
    result = subprocess.run([LETHE, *command], env=env, cwd=REPO, capture_output=True, timeout=60, check=False,
                            stdin=subprocess.DEVNULL)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("lethe: error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert message in errors[0] and "LETHE_KAFKA_SSL_CAFILE" in errors[0], errors[0]
