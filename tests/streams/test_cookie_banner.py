"""Anonymous cookie consent (issue 13 item 7) end to end, across two workers on the embedded broker.

A visitor refuses analytics cookies on the banner before login (consent.v1 with a session id and
no customer id): that session's anonymous logs stop reaching logs.anonymized.v1, other sessions'
do not; once logged in (logs keyed by the customer, on a partition of the other worker) the
session's refusal still holds the logs back, until the customer grants for themselves. A worker
started afterwards holds the session's choice before it serves.
"""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from kafka.partitioner.default import murmur2
from support import Worker, keys_by_event, unique_prefix, wait_for, wait_for_assignment

from processors.sample import Traffic
from streams.broker import EmbeddedBroker
from streams.client import publish, read

pytestmark = pytest.mark.integration

PARTITIONS = 4
REFUSED = "session_consent_refused.cookies_analytics"


def partition_of(key: str) -> int:
    """Kafka's default partitioner (murmur2), as kafka-python applies it when publishing."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def key_on(partitions: set[int], stem: str) -> str:
    return next(k for k in (f"{stem}-{n}" for n in itertools.count()) if partition_of(k) in partitions)


def total(workers: list[Worker], name: str, **labels: str) -> float:
    return sum(w.metric(name, **labels) for w in workers)


def test_a_banner_choice_gates_its_sessions_logs_until_the_customer_decides(broker: EmbeddedBroker,
                                                                            tmp_path: Path) -> None:
    prefix = unique_prefix("cookies")
    out, logs_in = prefix + "logs.anonymized.v1", prefix + "logs.v1"
    traffic = Traffic(Path(__file__).resolve().parents[2] / "schemas" / "examples", subjects=2, seed=13)
    first = Worker(broker.bootstrap, prefix, tmp_path).start()
    second = Worker(broker.bootstrap, prefix, tmp_path).start()
    workers = [first, second]
    n = itertools.count()

    def log(customer: str | None, session: str) -> dict[str, Any]:
        return {**traffic.log(traffic.people[0]), "event_id": f"log-{next(n)}", "customer_id": customer,
                "session_id": session}

    def send(topic: str, events: list[dict[str, Any]]) -> None:
        publish(broker.bootstrap, [(prefix + topic, (e["customer_id"] or e["session_id"]).encode(),
                                    json.dumps(e).encode()) for e in events])

    def consent(event_id: str, granted: bool, customer: str | None, session: str | None) -> dict[str, Any]:
        return {"event_id": event_id, "occurred_at": "2026-11-20T10:00:00Z", "customer_id": customer,
                "session_id": session, "purpose": "cookies_analytics", "granted": granted,
                "policy_version": "2026-11-01", "source": "cookie_banner"}

    try:
        owned = wait_for_assignment(workers, PARTITIONS)
        # the choice is made on the first worker's partition, the customer's logs go to the second's
        session, other = key_on(owned[0], "sess"), key_on(owned[0] | owned[1], "sess-other")
        customer = key_on(owned[1], "cust")
        send("consent.v1", [consent("banner-1", False, None, session)])
        wait_for(lambda: all(w.metric("lethe_session_choices") == 1 for w in workers), 30,
                 "every worker to hold the session's choice")

        anonymous = [log(None, session), log(None, other), log(None, session)]
        send("logs.v1", anonymous)
        keys_by_event(broker.bootstrap, out, {anonymous[1]["event_id"]})   # the other session's log flows
        wait_for(lambda: total(workers, "lethe_records_gated_total", topic=out, reason=REFUSED) == 2, 30,
                 "the session's anonymous logs to be held back")

        logged_in = [log(customer, session) for _ in range(2)]
        send("logs.v1", logged_in)
        wait_for(lambda: total(workers, "lethe_records_gated_total", topic=out, reason=REFUSED) == 4, 30,
                 "the logged-in customer's logs to be held back by the session's choice")
        assert second.metric("lethe_records_gated_total", topic=out, reason=REFUSED) >= 2   # across workers

        send("consent.v1", [consent("account-1", True, customer, None)])
        wait_for(lambda: total(workers, "lethe_consent_decisions_total") == 2, 30, "the customer's grant")
        after = [log(customer, session) for _ in range(2)]
        send("logs.v1", after)
        keys_by_event(broker.bootstrap, out, {e["event_id"] for e in after})
        assert total(workers, "lethe_records_gated_total", topic=out, reason=REFUSED) == 4
        assert total(workers, "lethe_records_in_total", topic=logs_in) == 7

        # a worker started afterwards holds the choice before it serves
        assert [first.stop(), second.stop()] == [0, 0], first.log()[-2000:] + second.log()[-2000:]
        third = Worker(broker.bootstrap, prefix, tmp_path).start()
        workers.append(third)
        wait_for_assignment([third], PARTITIONS)
        assert third.metric("lethe_session_choices") == 1
        late = log(None, session)
        send("logs.v1", [late])
        wait_for(lambda: third.metric("lethe_records_gated_total", topic=out, reason=REFUSED) == 1, 60,
                 "the new worker to hold the session's log back")
    finally:
        codes = [w.stop(signal.SIGTERM) for w in workers]
    assert codes == [0] * len(workers), [w.log()[-2000:] for w in workers]

    published = {json.loads(r.value or b"{}")["event_id"] for r in read(broker.bootstrap, [out], timeout=20, idle=1.5)}
    held = {e["event_id"] for e in [anonymous[0], anonymous[2], *logged_in, late]}
    assert held.isdisjoint(published) and {anonymous[1]["event_id"]} | {e["event_id"] for e in after} <= published
    audits = [json.loads(r.value or b"{}") for r in read(broker.bootstrap, [prefix + "privacy.audit.v1"], timeout=20,
                                                         idle=1.5)]
    choice = [a for a in audits if a["action"] == "consent" and a["details"].get("subject_kind") == "session"]
    assert [a["subject"] for a in choice] == [session]
    assert session not in json.dumps(choice[0]["details"])
