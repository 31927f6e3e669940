"""Dead letters are sealed with their subject: `lethe dlq show` opens them, erasure shuts them for
good, and `lethe dlq replay` publishes a fixed cause's records again, each once.

A worker starts with an orders schema that lacks the `refunded` payment status (the upstream service
already sends it), so two subjects' refunds are dead-lettered (rule `enum`), with a malformed record
of each and one with no key. Subject A is erased. The worker restarts with the corrected schema and
the refunds are replayed: B's reaches the anonymized output, A's stays shut, and a second replay
publishes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from leaky import LeakyTraffic, leaks
from support import REPO, Worker, unique_prefix, wait_for

from streams.broker import EmbeddedBroker
from streams.client import publish, read

LETHE = str(Path(sys.executable).parent / "lethe")


def schemas_without_refunds(tmp_path: Path) -> Path:
    """An overlay whose orders.v1 has every payment status but `refunded` (the state before the fix)."""
    schema = json.loads((REPO / "schemas" / "orders.v1.avsc").read_text())
    status = next(f for f in schema["fields"] if f["name"] == "payment_status")
    status["type"]["symbols"].remove("refunded")
    overlay = tmp_path / "old-schemas"
    overlay.mkdir()
    (overlay / "orders.v1.avsc").write_text(json.dumps(schema))
    return overlay


def utf8_json(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()   # the personal values as the scans look for them


def test_dead_letters_open_for_the_operator_shut_at_erasure_and_replay_once_after_a_fix(
        broker: EmbeddedBroker, examples_dir: Path, tmp_path: Path) -> None:
    prefix = unique_prefix("dlqcmd")
    traffic = LeakyTraffic(examples_dir, seed=23)
    a, b = traffic.person(0), traffic.person(1)
    worker = Worker(broker.bootstrap, prefix, tmp_path, LETHE_SCHEMAS_DIR=str(schemas_without_refunds(tmp_path)))
    env = dict(worker.env)

    def lethe(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([LETHE, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180,
                                check=False)
        assert result.returncode == 0, result.stderr
        return result

    def show(*args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in lethe("dlq", "show", "--json", *args).stdout.splitlines()]

    def of(letters: list[dict[str, Any]], person: dict[str, str] | None) -> list[dict[str, Any]]:
        """A subject's dead letters (known by their source partition and offset), or the keyless ones."""
        if person is None:
            return [x for x in letters if x["sealed_with"] == "deployment"]
        return [x for x in letters if (x["source_partition"], x["source_offset"]) in where[person["customer_id"]]]

    worker.start()
    where: dict[str, set[tuple[str, str]]] = {}
    try:
        records: list[tuple[bytes | None, bytes]] = []
        for p in (a, b):
            key = p["customer_id"].encode()
            refund = {**traffic.order(p), "payment_status": "refunded"}
            records += [(key, utf8_json(traffic.order(p))), (key, utf8_json(refund)),
                        (key, b'{"customer_id": "%s", "email": "%s"' % (key, p["email"].encode()))]   # cut short
        records.append((None, b'{"note": "%s"' % traffic.person(2)["email"].encode()))
        publish(broker.bootstrap, [(prefix + "orders.v1", key, value) for key, value in records])
        wait_for(lambda: worker.metric("lethe_records_dead_lettered_total") == 5, 60, "the dead letters")

        letters = show()
        assert len(letters) == 5 and all(x["readable"] for x in letters), letters
        for p in (a, b):
            where[p["customer_id"]] = {(x["source_partition"], x["source_offset"]) for x in letters
                                       if x.get("key") == p["customer_id"]}
            mine = of(letters, p)
            assert sorted(x["rule"] for x in mine) == ["enum", "json"]
            assert all(p["email"] in x["value"] for x in mine)   # the operator reads the original record
        assert [x["rule"] for x in of(letters, None)] == ["json"] and of(letters, None)[0].get("key") is None
        limited = show("--rule", "enum", "--limit", "1")
        assert len(limited) == 1 and limited[0]["rule"] == "enum"
        wrong = subprocess.run([LETHE, "dlq", "show"], env={**env, "LETHE_PSEUDONYM_KEY": "ab" * 32}, cwd=REPO,
                               capture_output=True, text=True, timeout=180, check=False)
        assert wrong.returncode == 2 and "set LETHE_PSEUDONYM_KEY" in wrong.stderr, wrong.stderr
        assert "unreadable" in wrong.stdout and a["email"] not in wrong.stdout   # nothing opens with another key
        raw = list(read(broker.bootstrap, [prefix + "dlq.v1"], expect=5, timeout=30))
        assert leaks(b"\n".join(r.value or b"" for r in raw), traffic.secrets) == []   # sealed on the topic
        ids = {p["customer_id"].encode() for p in (a, b)}
        assert not [r.key for r in raw if r.key and any(i in r.key for i in ids)]      # keyed by no one's id
        assert len({r.key for r in raw if r.key}) == 2 and sum(r.key is None for r in raw) == 1
        assert {r.headers["rule"] for r in raw} == {b"enum", b"json"}                  # the headers as before

        erase = lethe("request", "erase", "--customer", a["customer_id"])
        assert erase.stdout.split()[0].startswith("req-")

        def a_shut() -> bool:
            return not any(x["readable"] for x in of(show(), a))
        wait_for(a_shut, 60, "A's dead letters to be shut by the erasure", interval=2.0)
        letters = show()
        assert len(of(letters, a)) == 2 and all("key" not in x and "value" not in x for x in of(letters, a))
        assert len(of(letters, b)) == 2 and all(x["readable"] for x in of(letters, b))
        assert of(letters, None)[0]["readable"]
        text = lethe("dlq", "show").stdout
        assert text.count("unreadable (subject erased)") == 2 and a["email"] not in text and b["email"] in text
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]

    # the fix: the corrected schema knows the `refunded` payment status
    del worker.env["LETHE_SCHEMAS_DIR"]
    del env["LETHE_SCHEMAS_DIR"]
    worker.start()
    try:
        dry = lethe("dlq", "replay", "--rule", "enum", "--dry-run")
        assert "would replay 1 dead letter;" in dry.stderr and "1 unreadable" in dry.stderr, dry.stderr
        first = lethe("dlq", "replay", "--rule", "enum")
        assert "replayed 1 dead letter; skipped 0 replayed before and 1 unreadable" in first.stderr, first.stderr
        wait_for(lambda: worker.metric("lethe_records_out_total", topic=prefix + "orders.anonymized.v1") == 1, 60,
                 "B's replayed refund in the anonymized output")
        again = lethe("dlq", "replay", "--rule", "enum")
        assert "replayed 0 dead letters; skipped 1 replayed before and 1 unreadable" in again.stderr, again.stderr
        assert worker.metric("lethe_records_dead_lettered_total") == 0   # the replayed refund was valid now
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
    markers = list(read(broker.bootstrap, [prefix + "dlq.replays.v1"], timeout=20, idle=2))
    assert len(markers) == 1 and leaks(b"".join((m.key or b"") + (m.value or b"") for m in markers),
                                       traffic.secrets) == []
