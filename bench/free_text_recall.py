"""Recall and precision of ``processors.detect.scan`` on the labelled notes of free_text_corpus.

    PYTHONPATH=$PWD .venv/bin/python bench/free_text_recall.py [--notes 3000] [--seed 7] [--by-language]

A labelled value counts as *cleaned* when every one of its characters lies inside some detected
span (whatever the span's category: what matters is that nothing of it survives redaction),
and as *named* when a span of its own category overlaps it. A detected span is a *false
positive* when it overlaps no labelled value; precision = 1 − false positives / spans. The
corpus' non-personal notes (ids, totals, dates, SKUs, products, places) carry the precision side.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from free_text_corpus import LANGUAGES, Note, corpus

from processors.detect import scan


def measure(notes: list[Note]) -> dict[str, Counter[str]]:
    """Per category: labelled, cleaned, named; per detected category: spans, false positives."""
    labelled: Counter[str] = Counter()
    cleaned: Counter[str] = Counter()
    named: Counter[str] = Counter()
    spans: Counter[str] = Counter()
    false: Counter[str] = Counter()
    for note in notes:
        found = scan(note.text)
        covered = set()
        for span in found:
            covered.update(range(span.start, span.end))
            spans[span.category] += 1
            if not any(span.start < end and start < span.end for start, end, _ in note.labels):
                false[span.category] += 1
        for start, end, category in note.labels:
            labelled[category] += 1
            if all(i in covered for i in range(start, end)):
                cleaned[category] += 1
            if any(s.category == category and s.start < end and start < s.end for s in found):
                named[category] += 1
    return {"labelled": labelled, "cleaned": cleaned, "named": named, "spans": spans, "false": false}


def table(result: dict[str, Counter[str]]) -> str:
    rows = ["| category | values | cleaned (recall) | named as category | spans found | false positives | precision |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    categories = sorted(set(result["labelled"]) | set(result["spans"]))
    for category in categories:
        n = result["labelled"][category]
        spans = result["spans"][category]
        false = result["false"][category]
        recall = f"{result['cleaned'][category] / n:.1%}" if n else "–"
        named = f"{result['named'][category] / n:.1%}" if n else "–"
        precision = f"{1 - false / spans:.1%}" if spans else "–"
        rows.append(f"| {category} | {n} | {recall} | {named} | {spans} | {false} | {precision} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--by-language", action="store_true")
    args = parser.parse_args()
    notes = corpus(args.notes, args.seed)
    negatives = sum(not note.labels for note in notes)
    print(f"{len(notes)} notes ({negatives} with nothing personal), seed {args.seed}\n")
    print(table(measure(notes)))
    if args.by_language:
        for language in LANGUAGES:
            print(f"\n{language}\n")
            print(table(measure([note for note in notes if note.language == language])))


if __name__ == "__main__":
    main()
