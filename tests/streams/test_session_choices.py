"""SessionChoices against the embedded broker, in process: every worker holds every session's banner
choice, follows what other workers write, forgets old choices, and only a partition's owner
tombstones them. Also the memory a held session takes (documented in streams/state/sessions.py)."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from support import unique_prefix

from processors.consent import ConsentEvent, decide
from processors.time import iso
from streams.broker import EmbeddedBroker
from streams.client import read
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state.sessions import SessionChoices, session_consent_topic
from streams.topics import ensure_topics

DAY = 86_400.0
START = 1_800_000_000.0


def banner(session: str, purpose: str, granted: bool, at: float) -> ConsentEvent:
    return ConsentEvent(f"ev-{uuid.uuid4()}", iso(at), session, purpose, granted, "2026-11-01", "cookie_banner",
                        session=True)


async def until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def granted(choices: SessionChoices, session: str, purpose: str) -> bool | None:
    state = choices.state_of(session)
    decision = state["current"].get(purpose) if state is not None else None
    return decision["granted"] if decision is not None else None


@pytest.mark.integration
def test_every_worker_follows_the_choices_and_the_owner_tombstones_expired_ones(broker: EmbeddedBroker,
                                                                                 tmp_path: Path) -> None:
    prefix = unique_prefix("sessions")
    settings = Settings.from_env({"LETHE_TOPIC_PREFIX": prefix, "LETHE_APP_ID": f"{prefix}lethe",
                                  "LETHE_DATA_DIR": str(tmp_path)})
    ensure_topics(settings, broker.bootstrap)
    topic = session_consent_topic(settings)
    now = [START]

    def table() -> SessionChoices:
        return SessionChoices(broker.bootstrap, topic, settings.partitions, Metrics(), 30 * DAY, lambda: now[0])

    async def run() -> tuple[set[str], set[str]]:
        a, b = table(), table()
        await a.start()
        await b.start()
        try:
            await a.restore({0, 1})
            await b.restore({2, 3})
            a.record(0, banner("old", "cookies_analytics", False, START - 20 * DAY))
            a.record(1, banner("new", "cookies_analytics", False, START))
            a.record(1, banner("new", "cookies_analytics", True, START + 60))   # held at once, then written
            assert granted(a, "new", "cookies_analytics") is True
            await a.flush()
            await until(lambda: granted(b, "new", "cookies_analytics") is True and b.state_of("old") is not None,
                        "the other worker to follow the choices")
            assert granted(a, "new", "cookies_analytics") is True   # reading its own writes back: no step back
            b.record(2, banner("third", "cookies_advertising", True, START))
            await b.flush()
            await until(lambda: granted(a, "third", "cookies_advertising") is True, "the writer's choice back")

            now[0] = START + 15 * DAY   # "old" is now 35 days old, past the 30 days
            await a.sweep()   # the owner of partition 0: forgets and tombstones
            await b.sweep()   # not the owner: forgets only
            assert a.state_of("old") is None and b.state_of("old") is None
            assert a.sessions.keys() == b.sessions.keys() == {"new", "third"}
        finally:
            await a.stop()
            await b.stop()
        restarted = table()
        await restarted.start()
        await restarted.stop()
        written = {r.key.decode() for r in read(broker.bootstrap, [topic], timeout=20, idle=1.5)
                   if r.value is None and r.key is not None}
        return set(restarted.sessions), written

    held, tombstoned = asyncio.run(run())
    assert held == {"new", "third"}
    assert tombstoned == {"old"}


def test_a_held_session_takes_well_under_a_kilobyte() -> None:
    choices = SessionChoices("unused:9092", "unused", 4, Metrics(), 395 * DAY, lambda: START)
    count = 5000
    records = []
    for n in range(count):
        session = f"sess-{uuid.uuid4().hex}"   # 37 characters
        state = None
        for purpose in ("cookies_analytics", "cookies_advertising"):
            state = decide(state, banner(session, purpose, n % 2 == 0, START)).state
        records.append(SimpleNamespace(key=session.encode(), value=orjson.dumps(state)))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        choices.load(0, records)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert len(choices.sessions) == count
    per_session = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count
    assert 100 < per_session < 1000, per_session
