"""A minimal Faust pass-through, run by ``bench/throughput.py`` in its own process.

One agent takes batches from ``--source`` with ``take_events(batch, within)`` and sends the raw
bytes on to ``--dest``, either through Faust's own producer (``--producer app``) or through a
separate aiokafka producer configured like Lethe's output producer (``--producer aiokafka``).
Every batch is awaited before the next one, as Lethe does. Prints ``START`` when the first batch
arrives and ``DONE <count>`` once ``--events`` records have been acknowledged, then waits for
SIGTERM/SIGINT like any worker.

    python bench/_faust_passthrough.py --bootstrap 127.0.0.1:9092 --source a --dest b \
        --app-id bench-faust --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from mode import Service


class RawProducer(Service):
    """An aiokafka producer with the settings Lethe's OutputProducer had before issue 14 moved it to librdkafka."""

    def __init__(self, bootstrap: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, client_id="bench-output", acks="all",
                                         linger_ms=5, max_batch_size=256 * 1024)
        await self.producer.start()

    async def on_stop(self) -> None:
        if self.producer is not None:
            await self.producer.flush()
            await self.producer.stop()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def build(args: argparse.Namespace, datadir: str) -> tuple[faust.App, RawProducer]:
    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        datadir=datadir,
        topic_partitions=args.partitions,
        broker_session_timeout=args.session_timeout,
        broker_heartbeat_interval=max(args.session_timeout / 3, 0.5),
        broker_request_timeout=max(args.session_timeout * 5, 30.0),
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(args.batch * 4, 4096),
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
    )
    raw = RawProducer(args.bootstrap)
    source = app.topic(args.source, key_type=bytes, value_type=bytes, partitions=args.partitions)
    seen = 0

    @app.agent(source, name="bench.passthrough")
    async def passthrough(stream: Any) -> None:
        nonlocal seen
        async for events in stream.take_events(args.batch, within=args.within):
            if seen == 0:
                say("START")
            if args.producer == "app":
                send = app.producer.send
                futures = [await send(args.dest, e.message.key, e.message.value, None, None, None) for e in events]
            else:
                producer = raw.producer
                assert producer is not None
                futures = [await producer.send(args.dest, e.message.value, key=e.message.key) for e in events]
            await asyncio.gather(*futures)
            seen += len(events)
            if seen >= args.events:
                say(f"DONE {seen}")

    return app, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--dest", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--events", type=int, required=True, help="print DONE after this many records")
    parser.add_argument("--producer", choices=("app", "aiokafka"), default="aiokafka")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--within", type=float, default=0.05)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--session-timeout", type=float, default=6.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-faust-") as datadir:
        app, raw = build(args, datadir)
        worker = faust.Worker(app, raw, loglevel="info", quiet=True, redirect_stdouts=False)
        for name in ("aiokafka", "kafka"):   # as Lethe's worker does (streams/worker.py)
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
