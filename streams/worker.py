"""Run a Lethe worker: embedded broker when none is configured, topics, the Faust worker."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import faust

from streams.app import build_pipelines, create_app
from streams.broker import EmbeddedBroker
from streams.connection import BrokerWatch
from streams.kafka import check_reachable
from streams.logs import quiet_libraries
from streams.metrics import check_port_free
from streams.settings import Settings
from streams.topics import ensure_topics


def run_worker(settings: Settings, clock: Callable[[], float] = time.time) -> int:
    """Run a worker until SIGTERM; ``clock`` is for tests that move time instead of waiting."""
    build_pipelines(settings)   # a bad policy or schema stops us before any broker is touched
    if settings.metrics_port:
        check_port_free(settings.metrics_port)
    with ExitStack() as stack:
        bootstrap = connect(settings, stack)
        lethe = create_app(settings, bootstrap, clock=clock)
        print(f"lethe: worker {settings.app_id} on {bootstrap}; policy {lethe.policy.path} "
              f"(version {lethe.policy.version}); pseudonym key from {settings.key_source}; "
              f"metrics on :{settings.metrics_port}/metrics", file=sys.stderr, flush=True)
        worker = _Worker(
            lethe.app,
            *lethe.services,
            loglevel=settings.log_level,
            redirect_stdouts=False,
            quiet=True,
        )
        quiet_libraries(settings.log_level)
        stack.enter_context(_watching(BrokerWatch(bootstrap, lethe.metrics)))   # says once if it goes away
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0


class _Worker(faust.Worker):
    """Faust's worker with safe debugging signals: SIGUSR1 prints every task's stack, code lines only.

    mode's own SIGUSR1 handler prints each frame's local variables too, and those hold the batch in
    hand (records, personal data) even while the worker waits; its SIGUSR2 opens a debugger. Here
    SIGUSR2 is only logged.
    """

    def _on_sigusr1(self) -> None:
        tasks = asyncio.all_tasks()
        lines = [f"lethe: the worker's {len(tasks)} tasks (SIGUSR1): where each waits, innermost last"]
        for task in sorted(tasks, key=lambda t: t.get_name()):
            lines.append(f"task {task.get_name()}:")
            lines += [f"  {where}" for where in _awaiting(task.get_coro())]
        print("\n".join(lines), file=sys.stderr, flush=True)

    def _on_sigusr2(self) -> None:
        print("lethe: SIGUSR2 ignored (SIGUSR1 prints the worker's tasks)", file=sys.stderr, flush=True)


def _awaiting(coro: Any) -> list[str]:
    """File, line and function of each coroutine in the chain ``coro`` awaits (no value, no repr)."""
    found = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            found.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return found


def connect(settings: Settings, stack: ExitStack) -> str:
    """The broker's address, its topics ensured: LETHE_BOOTSTRAP_SERVERS once it answers, else the
    embedded broker, started on ``stack`` (stopped when the stack closes)."""
    if settings.bootstrap_servers is None:
        bootstrap = stack.enter_context(EmbeddedBroker()).bootstrap
        print(f"lethe: no LETHE_BOOTSTRAP_SERVERS set; started the embedded broker on {bootstrap} "
              "(memory only)", file=sys.stderr, flush=True)
    else:
        bootstrap = settings.bootstrap_servers
        check_reachable(bootstrap)
    ensure_topics(settings, bootstrap)
    return bootstrap


@contextmanager
def _watching(watch: BrokerWatch) -> Iterator[BrokerWatch]:
    try:
        yield watch.start()
    finally:
        watch.stop()
