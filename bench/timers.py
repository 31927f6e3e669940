"""Scale of the retention timer index (processors/timers.py), no Kafka.

    .venv/bin/python bench/timers.py [--timers 1000000]

Prints: memory per pending timer, scheduling rate, the cost of one tick as a function of the
timers due and of the timers pending (it should follow the first, not the second), the firing rate
when many expire at once, and firing lateness p50/p99 of a real-time tick loop. A benchmark, not a
test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc

from processors.timers import TimerIndex


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(n: int, horizon: float, rng: random.Random) -> TimerIndex:
    index = TimerIndex()
    for i in range(n):
        # ids and payloads shaped like retention deadlines: record selector + (rule, subject)
        index.schedule(f"orders:ORD-{i:09d}", rng.random() * horizon, ("orders-7y", f"cust-{i % 100_000}"))
    return index


def memory_and_scheduling(n: int) -> None:
    rng = random.Random(1)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    index = build(n, 1e9, rng)
    elapsed = time.perf_counter() - started
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"pending timers                {len(index):>12,}")
    print(f"memory per pending timer      {(after - before) / n:>12,.0f} bytes (id, payload, heap entry; tracemalloc)")
    rate = n / elapsed
    print(f"scheduling rate               {rate:>12,.0f} timers/s (under tracemalloc, which slows it)")
    rng = random.Random(1)
    started = time.perf_counter()
    build(n // 4, 1e9, rng)
    print(f"scheduling rate, no tracing   {(n // 4) / (time.perf_counter() - started):>12,.0f} timers/s")


def tick_cost(pending: int, due: int, repeats: int = 5) -> float:
    """Seconds for one pop_due that fires ``due`` timers out of ``pending``."""
    rng = random.Random(2)
    index = build(pending, 1e9, rng)
    times = []
    for r in range(repeats):
        for j in range(due):
            index.schedule(f"due-{r}-{j}", -1.0 - j, None)
        started = time.perf_counter()
        fired = index.pop_due(0.0)
        times.append(time.perf_counter() - started)
        assert len(fired) >= due
    return statistics.median(times)


def lateness(n: int, window: float, tick: float) -> None:
    index = TimerIndex()
    start = time.monotonic() + 0.5
    rng = random.Random(4)
    for i in range(n):
        index.schedule(i, start + rng.random() * window)
    late: list[float] = []
    while len(index):
        time.sleep(tick)
        now = time.monotonic()
        late.extend(now - due for _, due, _ in index.pop_due(now))
    late.sort()
    p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99)]
    print(f"firing lateness ({n:,} timers due over {window:.0f}s, tick {tick * 1000:.0f} ms): "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=1_000_000, help="pending timers (default 1,000,000)")
    args = parser.parse_args()
    progress(f"scheduling {args.timers:,} timers under tracemalloc")
    memory_and_scheduling(args.timers)
    progress("tick cost by due and by pending")
    print("\ncost of one tick (pop_due), median of 5:")
    print(f"  {'pending':>10} {'due':>8} {'ms/tick':>9} {'us/timer fired':>15}")
    for pending in (args.timers // 10, args.timers):
        for due in (1, 100, 10_000):
            seconds = tick_cost(pending, due)
            print(f"  {pending:>10,} {due:>8,} {seconds * 1000:>9.3f} {seconds / due * 1e6:>15.2f}")
    progress("firing many at once")
    rng = random.Random(5)
    index = build(args.timers, 1000.0, rng)
    started = time.perf_counter()
    fired = index.pop_due(100.0)
    elapsed = time.perf_counter() - started
    print(f"\nfiring rate, {len(fired):,} of {args.timers:,} due at once: {len(fired) / elapsed:,.0f} timers/s")
    progress("lateness of a 100 ms tick loop")
    lateness(200_000, 5.0, 0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
