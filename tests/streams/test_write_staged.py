"""The writes an input batch leaves, made for all its topics together (streams/handler.py ``write_staged``).

Every topic's ``before`` (the state its outputs rely on) is on the broker before any output goes
out, every output before any ``after`` (the request states that make a replay a no-op), and the
``after`` steps run one at a time. Overlapping flushes of one state write each update once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support import Kept, own_topics

from streams.broker import EmbeddedBroker
from streams.handler import Staged, write_staged
from streams.state.requests import requests_topic

STEPS = ("before", "send", "after")


def recorded(log: list[tuple[str, str, str]], name: str, steps: tuple[str, ...], pauses: int) -> Staged:
    """A topic's staged batch whose steps log their start and end, yielding ``pauses`` times between."""
    def step(which: str) -> Any:
        async def run() -> None:
            log.append((name, which, "start"))
            for _ in range(pauses):
                await asyncio.sleep(0)
            log.append((name, which, "end"))
        return run
    return Staged(**{which: step(which) for which in steps})


# (topics of the batch: name, the steps it has, how long each step takes in loop turns)
CASES = [
    [("orders", STEPS, 1)],
    [("orders", STEPS, 3), ("logs", STEPS, 1)],
    [("orders", STEPS, 2), ("requests", STEPS, 5), ("acks", ("send", "after"), 1)],
    [("holds", ("after",), 4), ("requests", STEPS, 1), ("consent", ("before", "send"), 2)],
    [("acks", ("send",), 0), ("logs", ("before",), 3)],
]


@pytest.mark.parametrize("topics", CASES, ids=lambda topics: "+".join(t[0] for t in topics))
def test_every_before_ends_before_any_send_and_every_send_before_any_after(
        topics: list[tuple[str, tuple[str, ...], int]]) -> None:
    log: list[tuple[str, str, str]] = []
    asyncio.run(write_staged([recorded(log, name, steps, pauses) for name, steps, pauses in topics]))
    assert sorted((name, which) for name, which, edge in log if edge == "end") == sorted(
        (name, which) for name, steps, _ in topics for which in steps)   # each step ran once
    for earlier, later in (("before", "send"), ("send", "after")):
        ends = [n for n, (_, which, edge) in enumerate(log) if which == earlier and edge == "end"]
        starts = [n for n, (_, which, edge) in enumerate(log) if which == later and edge == "start"]
        if ends and starts:
            assert max(ends) < min(starts), f"a {later} started before every {earlier} had ended: {log}"
    afters = [(name, edge) for name, which, edge in log if which == "after"]
    assert afters == [(name, edge) for name, steps, _ in topics if "after" in steps
                      for edge in ("start", "end")], "the after steps overlapped or ran out of order"


def test_the_befores_and_the_sends_overlap() -> None:
    """The point of it: the topics' writes are made together, not one topic after another."""
    log: list[tuple[str, str, str]] = []
    asyncio.run(write_staged([recorded(log, name, STEPS, 2) for name in ("orders", "logs", "requests")]))
    for which in ("before", "send"):
        edges = [edge for _, step, edge in log if step == which]
        assert edges == ["start"] * 3 + ["end"] * 3, log


@pytest.mark.integration
def test_overlapping_flushes_write_each_update_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    topic = requests_topic(own_topics(broker.bootstrap, "flushes", tmp_path))

    async def run() -> list[tuple[int, bytes]]:
        store = Kept(broker.bootstrap, topic)
        await store.start()
        try:
            for n in range(50):
                store.stage(n % 2, f"first-{n}".encode(), b"{}")
            await asyncio.gather(store.flush(), store.flush(), store.flush())
            assert store.pending == 0
            for n in range(10):
                store.stage(n % 2, f"second-{n}".encode(), b"{}")
            await asyncio.gather(store.flush(), store.flush())
            assert store.pending == 0
        finally:
            await store.stop()
        again = Kept(broker.bootstrap, topic)
        await again.restore({0, 1})
        return again.read

    read = asyncio.run(run())
    assert sorted(read) == sorted([(n % 2, f"first-{n}".encode()) for n in range(50)]
                                  + [(n % 2, f"second-{n}".encode()) for n in range(10)])
