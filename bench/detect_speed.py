"""Notes per second through ``processors.detect.scan`` on the labelled corpus (every note non-empty).

    PYTHONPATH=$PWD .venv/bin/python bench/detect_speed.py [--notes 3000] [--runs 5] [--phonenumbers] [--traffic]
        [--pipeline]

To compare two versions of the detectors, export one's ``processors`` elsewhere and run the
same script with that directory first on PYTHONPATH, e.g.
``git archive BASE processors | tar -x -C /tmp/base && PYTHONPATH=/tmp/base:$PWD …``.
``--phonenumbers`` also times ``phonenumbers.PhoneNumberMatcher`` (if installed) on the same
notes, for one region per note, to compare with the regex rule. ``--traffic`` also times
``scan`` over the scanned fields (notes, url, referrer, click_target) of 20,000 events of
``processors.sample.Traffic`` (what the throughput benchmark sends), per value and per event.
``--pipeline`` also runs
throughput.py's "processors only" path (decode + anonymize with the default policy, no Kafka)
on 20,000 sample events, best of three, and prints events/s. Process CPU time, best of ``--runs``
(the machine is shared: wall time would count other processes' turns); a
benchmark, nothing asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from free_text_corpus import corpus

import processors.detect

REGION = {"en": "GB", "de": "DE", "fr": "FR", "es": "ES", "it": "IT", "nl": "NL", "pl": "PL"}


def rate(function: object, texts: list[str], runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.process_time()
        for text in texts:
            function(text)  # type: ignore[operator]
        timings.append(time.process_time() - start)
    return len(texts) / min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--phonenumbers", action="store_true")
    parser.add_argument("--traffic", action="store_true")
    parser.add_argument("--pipeline", action="store_true")
    args = parser.parse_args()
    notes = corpus(args.notes)
    texts = [note.text for note in notes]
    print(f"detectors from {Path(processors.detect.__file__).parent}")
    print(f"scan: {rate(processors.detect.scan, texts, args.runs):,.0f} notes/s "
          f"({len(processors.detect.RULES)} rules, {len(texts)} notes, best of {args.runs})")
    if args.phonenumbers:
        import phonenumbers

        regions = [REGION[note.language] for note in notes]
        pairs = list(zip(texts, regions, strict=True))

        def match(pair: tuple[str, str]) -> None:
            list(phonenumbers.PhoneNumberMatcher(pair[0], pair[1]))

        print(f"phonenumbers.PhoneNumberMatcher alone: {rate(match, pairs, args.runs):,.0f} notes/s")
    if args.traffic or args.pipeline:
        import throughput

        workload = throughput.build_workload(20_000, 5_000)
    if args.traffic:
        import orjson

        values = [value for _, _, raw in workload.records for key, value in orjson.loads(raw).items()
                  if key in ("notes", "url", "referrer", "click_target") and isinstance(value, str)]
        per_value = 1e6 / rate(processors.detect.scan, values, args.runs)
        print(f"sample traffic: {per_value:.1f} µs per scanned value, "
              f"{per_value * len(values) / len(workload.records):.1f} µs per event ({len(values)} values)")
    if args.pipeline:

        best = max(throughput.measure_processors(workload).rate for _ in range(3))
        print(f"processors only (decode + anonymize, default policy): {best:,.0f} events/s")


if __name__ == "__main__":
    main()
