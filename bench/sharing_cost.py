"""The cost of ``SharingStore.share`` (streams/state/sharing.py) alone, per share, on a worker's batch stream:
no broker, no pipeline, a fake clock, and the worker's ``lethe_shares`` metric as the store's ``on_share``.

    PYTHONPATH=$PWD .venv/bin/python bench/sharing_cost.py [--batches 200] [--warm 20] [--shares 2000]
        [--subjects 10000] [--step 1] [--resolution 1h] [--repeat 5]

    export PYTHONHASHSEED=0 PYTHONPATH=$PWD
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/sharing_cost.py --batches 50 --repeat 1 --untimed
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/sharing_cost.py --batches 50 --repeat 1

Each order of one of ``--subjects`` customers (uniformly drawn) leaves two shares, as the default
policy's orders pipeline does: to parcelco with 4 categories and to paynow with 2 (6 ledger entries
per customer), each with its own category strings (the pipeline builds them per record). A batch holds
``--shares`` shares over 4 partitions, ``--step`` simulated seconds after the one before. ``--warm``
batches are shared first, untimed (the entries of most customers exist by then), then ``--batches``
are timed with ``time.perf_counter``, ``--repeat`` times on a fresh store each (the best and the median
are printed). With the shipped 1 h resolution nearly every entry a batch changes is held back; a short
``--resolution`` (e.g. 30s) makes many of them be written with their batch. The staged records are
dropped after each batch, untimed, as a flush would. With ``--untimed`` the script does all but share
the timed batches: (instructions of a run minus those of the same run ``--untimed``) / (batches x
shares x repeat) is the instruction count per share. Runs against whatever ``streams`` is first on
PYTHONPATH, so two checkouts can be compared. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import zlib
from pathlib import Path

from processors.policy import load_policy
from processors.retention.rules import parse_duration
from processors.sharing import Share, Sharing, recipients_of
from streams.metrics import Metrics
from streams.state.sharing import SharingStore

REPO = Path(__file__).resolve().parent.parent
PARTITIONS = 4
T0 = 1_795_253_400.0
CATEGORIES = {"parcelco": ("contact.address", "identity.name", "transaction.logistics", "transaction.order"),
              "paynow": ("transaction.order", "transaction.payment")}


def stream(batches: int, shares: int, subjects: int, seed: int = 7) -> list[list[tuple[int, Share]]]:
    rng = random.Random(seed)
    names = [f"cust-{i:06d}" for i in range(subjects)]
    partition = {name: zlib.crc32(name.encode()) % PARTITIONS for name in names}
    found = []
    for _ in range(batches):
        batch: list[tuple[int, Share]] = []
        while len(batch) < shares:
            subject = rng.choice(names)
            for partner, categories in CATEGORIES.items():
                fresh = frozenset((c + ".")[:-1] for c in categories)   # new string objects, as categories_of's
                batch.append((partition[subject], Share(subject, partner, fresh)))
        found.append(batch[:shares])
    return found


def store(resolution_s: float, now: list[float], metrics: Metrics) -> SharingStore:
    partners = recipients_of(load_policy(REPO / "deploy" / "policy.toml"))
    return SharingStore("unused:9092", "privacy.sharing.v1", partners, clock=lambda: now[0],
                        on_share=lambda partner, category, added: metrics.shares.labels(partner, category).inc(added),
                        sharing=Sharing(resolution_s))


def run(warm: list[list[tuple[int, Share]]], timed: list[list[tuple[int, Share]]], step: float,
        resolution_s: float, untimed: bool = False) -> tuple[float, int]:
    """Seconds spent in ``share`` over the timed batches, and the entries they staged."""
    now = [T0]
    ledger = store(resolution_s, now, Metrics())
    for batch in warm:
        now[0] += step
        ledger.share(batch)
        ledger._pending = []
    spent, staged = 0.0, 0
    for batch in [] if untimed else timed:
        now[0] += step
        started = time.perf_counter()
        staged += ledger.share(batch)
        spent += time.perf_counter() - started
        ledger._pending = []
    return spent, staged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--batches", type=int, default=200, help="timed batches per run (default 200)")
    parser.add_argument("--warm", type=int, default=20, help="untimed batches first (default 20)")
    parser.add_argument("--shares", type=int, default=2000, help="shares per batch (default 2000)")
    parser.add_argument("--subjects", type=int, default=10_000, help="customers (default 10000)")
    parser.add_argument("--step", type=float, default=1.0, help="simulated seconds between batches (default 1)")
    parser.add_argument("--resolution", default="1h", help="the ledger's resolution (default 1h, the shipped one)")
    parser.add_argument("--repeat", type=int, default=5, help="runs, each on a fresh store (default 5)")
    parser.add_argument("--untimed", action="store_true", help="all but share the timed batches (cachegrind's base)")
    args = parser.parse_args(argv)
    batches = stream(args.warm + args.batches, args.shares, args.subjects)
    warm, timed = batches[:args.warm], batches[args.warm:]
    per_share, staged = [], 0
    for _ in range(args.repeat):
        spent, staged = run(warm, timed, args.step, parse_duration(args.resolution), args.untimed)
        if timed:
            per_share.append(spent / (len(timed) * args.shares) * 1e6)
    if per_share and not args.untimed:
        print(f"share: {min(per_share):.3f} us/share best, {statistics.median(per_share):.3f} median of "
              f"{args.repeat} runs x {len(timed)} batches x {args.shares} shares; {staged / len(timed):.1f} entries "
              f"staged per batch (resolution {args.resolution}, a batch every {args.step:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
