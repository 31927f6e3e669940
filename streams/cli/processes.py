"""Commands that run a process: worker, broker, demo, store agent, sink; and topic provisioning."""

from __future__ import annotations

import argparse
import sys

from streams.cli.common import _bootstrap
from streams.settings import Settings
from streams.text import plural


def cmd_run(args: argparse.Namespace) -> int:
    import os

    from streams.supervisor import supervise
    from streams.worker import run_worker

    # --processes N is LETHE_PROCESSES=N for this run (checked the same way, 1..MAX_PROCESSES)
    env = os.environ if args.processes is None else {**os.environ, "LETHE_PROCESSES": str(args.processes)}
    settings = Settings.from_env(env)
    return supervise(settings) if settings.processes > 1 else run_worker(settings)


def cmd_broker(args: argparse.Namespace) -> int:
    import signal

    from streams.broker import EmbeddedBroker, free_port
    from streams.metrics import BrokerMetrics, check_port_free
    from streams.settings import metrics_port

    port = metrics_port()
    if port:
        check_port_free(port)   # before the broker starts: a busy port is one line, exit 2
    # before anything is printed: a job started in the background by a script (or by pytest-xdist's
    # workers) starts with SIGINT ignored, and Ctrl-C or `kill -INT` must still stop it
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupt)
    try:
        broker = EmbeddedBroker(port=args.port or free_port()).start()
    except KeyboardInterrupt:   # stopped while starting: its broker dies with this process
        return 0
    try:
        if port:
            BrokerMetrics(lambda: broker.pid, broker.alive, broker.answers).serve(port)
        print(f"lethe: embedded broker listening on {broker.bootstrap} (memory only; Ctrl-C stops it)", flush=True)
        print(f"  export LETHE_BOOTSTRAP_SERVERS={broker.bootstrap}", flush=True)
        if port:
            print(f"  /metrics, /healthz and /readyz on :{port} (LETHE_METRICS_PORT)", flush=True)
        code = broker.wait()
        print(f"lethe: the embedded broker exited with code {code}", file=sys.stderr)
        for line in broker.stderr_tail:   # what it said last
            print(f"  {line}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(Settings.from_env(), events=args.events, subjects=args.subjects,
                    keep_running=args.keep_running)


def cmd_store_agent(args: argparse.Namespace) -> int:
    from processors.errors import ConfigError
    from streams.settings import REPO_ROOT
    from streams.store.agent import run_store_agent

    if args.batch is not None and not 1 <= args.batch <= 10_000:
        raise ConfigError(f"--batch {args.batch}: give 1 to 10000 commands per transaction (default 500)")

    return run_store_agent(Settings.from_env(), args.mapping or REPO_ROOT / "deploy" / "store-mapping.toml",
                           args.commands_topic, args.name, args.batch)


def cmd_sink(args: argparse.Namespace) -> int:
    from streams.store.sink import run_sink

    return run_sink(Settings.from_env(), args.name)


def cmd_topics_create(args: argparse.Namespace) -> int:
    from streams.exceptions import PartitionMismatch
    from streams.topics import provision

    settings = Settings.from_env()
    try:
        created, existing = provision(settings, _bootstrap(), allow_partition_mismatch=args.allow_partition_mismatch)
    except PartitionMismatch as exc:
        raise PartitionMismatch(f"{exc}, or pass --allow-partition-mismatch to only warn "
                                "(a worker refuses them all the same)") from None
    print(f"lethe: {plural(len(created), 'topic')} created, {len(existing)} already existed "
          f"({len(created) + len(existing)} in all)")
    return 0
