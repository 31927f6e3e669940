"""The processors path (decode + anonymize, default policy, no Kafka) as a fixed amount of work, to count
its instructions under valgrind: on a shared machine wall and CPU times vary by 2x, instruction counts
by well under 1%.

    export PYTHONHASHSEED=0 PYTHONPATH=$PWD
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/processors_cost.py --runs 0
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/processors_cost.py --runs 3

With random hash seeds (the default) two runs of one checkout differ by up to about 2,000
instructions per record (0.5%), as much as a small change saves; ``PYTHONHASHSEED=0`` brings that
to about 500.

``LETHE_POLICY`` names another policy (e.g. one without partners, to compare with a checkout before
issue 12). (difference of the two "I refs" totals) / (events x runs) = instructions per record. The workload is
throughput.py's (``processors.sample.Traffic``, 10,000 subjects, ~50/50 orders and logs) with fixed
subject secrets; every run builds fresh pipelines, so no cache carries over. ``--runs 0`` does all
the set-up and a warm-up of 50 records per source, nothing else. ``--start-up-only`` builds and
warms the pipelines of every run but decodes no batch: (its total minus ``--runs 0``'s) / (events x
runs) is the start-up share of the figure. Runs against whatever ``processors``
is first on PYTHONPATH, so two checkouts can be compared. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_kit import BATCH, SOURCES, build_workload

from processors.pipeline import TopicPipeline
from processors.policy import load_policy
from processors.schemas import SchemaCatalog
from streams.settings import REPO_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--start-up-only", action="store_true", help="build the pipelines of each run, no batch")
    args = parser.parse_args()
    workload = build_workload(args.events, 10_000)
    catalog = SchemaCatalog.load(REPO_ROOT / "schemas")
    policy = load_policy(Path(os.environ.get("LETHE_POLICY", REPO_ROOT / "deploy" / "policy.toml")))
    secrets = {key.decode(): hashlib.sha256(key).digest() for _, key, _ in workload.records if key}
    values = {source: [v for s, _, v in workload.records if s == source] for source in SOURCES}

    def pipelines() -> dict[str, TopicPipeline]:
        made = {source: TopicPipeline(catalog, policy, source, b"k" * 32) for source in SOURCES}
        for source, pipe in made.items():   # first-call costs, on records of their own
            pipe.anonymize(pipe.decode(values[source][:50]), secrets)
        return made

    pipelines()
    for _ in range(args.runs):
        for source, pipe in pipelines().items():
            if args.start_up_only:
                continue
            for start in range(0, len(values[source]), BATCH):
                pipe.anonymize(pipe.decode(values[source][start : start + BATCH]), secrets)


if __name__ == "__main__":
    main()
