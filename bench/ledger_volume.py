"""Sharing-ledger records written per N orders: one per entry a batch creates or changes (before the
``[sharing] resolution``) against what the store writes now (docs/sharing.md, "Sharing ledger and erasure").

    PYTHONPATH=$PWD .venv/bin/python bench/ledger_volume.py [--orders 10000] [--subjects 10000,1000,100]
        [--rates 2000,1] [--resolution 1h] [--batch-size 2000] [--batch-within-ms 50]

No broker and no timing: sample orders (processors.sample.Traffic) go through the default policy's
orders pipeline once per subject count; the shares it records are fed, batch by batch on a simulated
clock, to a ``SharingStore`` whose writes are counted instead of sent. Orders arrive at ``--rates``
per second and are batched as a worker batches them (``--batch-size`` records, or what arrives within
``--batch-within-ms``); the store's due writes run every simulated second, as the worker's loop does,
and a clean stop writes what is still held back. "before" is, per batch, the number of entries it
creates or changes (``processors.sharing.aggregate``), what a batch wrote before the resolution.
This counts records; it measures no time.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import zlib
from collections.abc import Sequence
from pathlib import Path

import orjson

from processors.pipeline import TopicPipeline
from processors.policy import load_policy
from processors.retention.rules import parse_duration
from processors.sample import Traffic
from processors.schemas import SchemaCatalog
from processors.sharing import Recipient, Share, Sharing, aggregate, recipients_of, terms_of
from processors.time import iso
from streams.state.sharing import SharingStore

REPO = Path(__file__).resolve().parent.parent
PARTITIONS = 4


class Everyone:
    """Every subject has a secret and no gate: every order reaches both partners."""

    def secret(self, subject: str, partition: int) -> bytes | None:
        return b"s" * 32

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> None:
        return None


class CountingStore(SharingStore):
    """Counts the records a flush would write instead of writing them."""

    written = 0

    async def flush(self) -> None:
        self.written += len(self._pending)
        self._pending = []


def shares_per_order(orders: int, subjects: int) -> list[list[Share]]:
    """The shares each of ``orders`` sample orders of ``subjects`` customers leaves (default policy)."""
    policy = load_policy(REPO / "deploy" / "policy.toml")
    pipeline = TopicPipeline(SchemaCatalog.load(REPO / "schemas"), policy, "orders.v1", secrets.token_bytes(32))
    traffic = Traffic(REPO / "schemas" / "examples", subjects=subjects, seed=11)
    values = [orjson.dumps(traffic.order()) for _ in range(orders)]
    per_order: list[list[Share]] = [[] for _ in range(orders)]
    for start in range(0, orders, 2000):
        chunk = values[start:start + 2000]
        result = pipeline.process(chunk, list(range(start, start + len(chunk))), Everyone())
        for index, share in result.shares:
            per_order[index].append(share)
    return per_order


def batches(orders: int, rate: float, size: int, within_s: float) -> list[tuple[float, range]]:
    """(arrival of its first order, its orders) per worker batch, orders arriving ``rate`` per second."""
    found, start = [], 0
    while start < orders:
        first = start / rate
        end = start + 1
        while end < orders and end - start < size and end / rate - first <= within_s:
            end += 1
        found.append((first, range(start, end)))
        start = end
    return found


def measure(per_order: Sequence[Sequence[Share]], rate: float, resolution_s: float, size: int, within_s: float,
            partners: dict[str, Recipient]) -> tuple[int, int, int, int]:
    """(before, written with batches, written when due, written at the stop) for one arrival rate."""
    now = [0.0]
    store = CountingStore("unused:9092", "privacy.sharing.v1", partners, clock=lambda: now[0],
                          sharing=Sharing(resolution_s))
    before = with_batches = when_due = 0
    swept = 0.0

    async def run() -> int:
        nonlocal before, with_batches, when_due, swept
        for first, orders in batches(len(per_order), rate, size, within_s):
            while swept + 1.0 <= first:   # the worker's loop, every second
                swept += 1.0
                now[0] = swept
                when_due += await store.write_due()
            now[0] = first
            shares = [(_partition(s.subject), s) for i in orders for s in per_order[i]]
            by_partition: dict[int, list[Share]] = {}
            for partition, share in shares:
                by_partition.setdefault(partition, []).append(share)
            terms = {name: terms_of(partner) for name, partner in partners.items()}
            before += sum(len(aggregate({}, group, terms, iso(first))) for group in by_partition.values())
            with_batches += store.share(shares)
            await store.flush()
        held = store.held_back
        await store.release(set(range(PARTITIONS)))   # a clean stop
        return held

    at_stop = asyncio.run(run())
    assert store.written == with_batches + when_due + at_stop
    return before, with_batches, when_due, at_stop


def _partition(subject: str) -> int:
    return zlib.crc32(subject.encode()) % PARTITIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--orders", type=int, default=10_000, help="orders per measurement (default 10000)")
    parser.add_argument("--subjects", default="10000,1000,100",
                        help="comma-separated customer counts, one measurement each (default 10000,1000,100)")
    parser.add_argument("--rates", default="2000,1",
                        help="comma-separated arrival rates, orders per simulated second (default 2000,1)")
    parser.add_argument("--resolution", default="1h", help="the ledger's resolution (default 1h, the shipped one)")
    parser.add_argument("--batch-size", type=int, default=2000, help="LETHE_BATCH_SIZE (default 2000)")
    parser.add_argument("--batch-within-ms", type=int, default=50, help="LETHE_BATCH_WITHIN_MS (default 50)")
    args = parser.parse_args(argv)
    resolution_s = parse_duration(args.resolution)
    partners = recipients_of(load_policy(REPO / "deploy" / "policy.toml"))
    print(f"ledger records per {args.orders:,} orders, resolution {args.resolution}, partners {', '.join(partners)}")
    print("| subjects | orders/s | span | before | after: with batches + when due + at stop | after/before |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for subjects in (int(s) for s in args.subjects.split(",")):
        per_order = shares_per_order(args.orders, subjects)
        for rate in (float(r) for r in args.rates.split(",")):
            before, batched, due, stop = measure(per_order, rate, resolution_s, args.batch_size,
                                                 args.batch_within_ms / 1000, partners)
            after = batched + due + stop
            print(f"| {subjects:,} | {rate:,.0f} | {args.orders / rate:,.0f} s | {before:,} | "
                  f"{after:,} = {batched:,} + {due:,} + {stop:,} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
