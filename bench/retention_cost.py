"""The retention deadlines' share of the worker's path, no Kafka: ``RetentionPlan.timers_for`` on decoded
records (as processors/pipeline.py calls it) and ``Retention.schedule_timers`` into a fresh in-memory
``TimerStore`` (as streams/state/subjects.py does), batch by batch, default policy.

    PYTHONPATH=$PWD .venv/bin/python bench/retention_cost.py              # µs per record, best of --repeat
    export PYTHONHASHSEED=0 PYTHONPATH=$PWD                              # instruction counts:
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/retention_cost.py --runs 0
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/retention_cost.py --runs 3

(difference of the two "I refs" totals) / (events x runs) = instructions per record (``--plan-only``:
of timers_for alone). Runs against whatever
``processors`` and ``streams`` are first on PYTHONPATH, so two checkouts can be compared (A/B: run them in
turns). The records are throughput.py's (``processors.sample.Traffic``, ~50/50 orders and logs). A
benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, cast

from processors.inputs import Inputs
from processors.policy import load_policy
from processors.retention.timers import RetentionPlan
from processors.sample import Traffic
from processors.schemas import SchemaCatalog, default_schema_dir
from streams.metrics import Metrics
from streams.retention import Retention
from streams.settings import REPO_ROOT, Settings
from streams.state.holds import HoldStore
from streams.state.timers import TimerStore

BATCH = 2000
PARTITIONS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plan-only", action="store_true", help="timers_for only, nothing scheduled")
    args = parser.parse_args()
    policy = load_policy(Path(os.environ.get("LETHE_POLICY", REPO_ROOT / "deploy" / "policy.toml")))
    traffic = Traffic(REPO_ROOT / "schemas" / "examples", subjects=10_000)
    events = list(traffic.stream(args.events))
    batches = [[(topic, n % PARTITIONS, record) for n, (topic, record) in enumerate(events[i:i + BATCH], i)]
               for i in range(0, len(events), BATCH)]
    inputs = Inputs(SchemaCatalog.load(default_schema_dir()))
    settings = Settings.from_env({"LETHE_PSEUDONYM_KEY": "ab" * 32})
    plan_s = schedule_s = 0.0
    best = float("inf")
    for _ in range(args.runs):
        plan = RetentionPlan(policy.retention, policy.sources)
        metrics = Metrics()
        timers = TimerStore("unused:9092", "timers", metrics)
        holds = HoldStore("unused:9092", "holds", metrics, inputs=inputs)
        retention = Retention(settings, plan, timers, holds, cast(Any, None), metrics)   # no producer: nothing fires
        run_plan = run_schedule = 0.0
        for batch in batches:
            started = time.perf_counter()
            found = []
            timers_for = plan.timers_for
            for topic, partition, record in batch:
                found += [(partition, timer) for timer in timers_for(topic, record)]
            planned = time.perf_counter()
            if not args.plan_only:
                retention.schedule_timers(found)
            run_plan += planned - started
            run_schedule += time.perf_counter() - planned
        if run_plan + run_schedule < best:
            best, plan_s, schedule_s = run_plan + run_schedule, run_plan, run_schedule
    if args.runs:
        per = 1e6 / len(events)
        print(f"µs per record (best of {args.runs}): timers_for {plan_s * per:.3f}, "
              f"schedule_timers {schedule_s * per:.3f}, both {best * per:.3f}")


if __name__ == "__main__":
    main()
