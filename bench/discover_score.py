"""Score ``lethe discover`` on labelled topics it was not written for (bench/discover_data.py).

    PYTHONPATH=. python bench/discover_score.py [--set tuned|heldout|blind] [--records 1000] [--verbose]

Per topic and overall: precision and recall of the category of every labelled field path (a path
counts as found only with the labelled category), the recall of "personal at all" (any category),
the fields left for review, and how many labelled personal values survive in the anonymized output
when the proposed schema and output stanza are applied as written with the default policy (leaks):
values of every category the policy does not keep, except free text and URLs, which are described
(free text) or redacted (URLs) in place (the personal values inside them are the record's other
values, counted on their own); and how many values of the fields labelled not personal pass
unchanged (kept: what the output is still good for, e.g. the sku and quantity of line items whose
recipient is dropped).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import discover_blind, discover_data, discover_heldout
from processors.discover.propose import discover
from processors.discover.schema import build_schema
from processors.discover.stanza import output_fields, output_topic
from processors.plan import compile_plan
from processors.policy import OutputPolicy, load_policy
from processors.validate import compile_validator

LEAKED: dict[str, int] = {}
# described or redacted in place: what is personal inside them is the record's other values, checked on their own
SCANNED = ("free_text", "behavior.browsing", "behavior.click")
POLICY = Path(__file__).resolve().parent.parent / "deploy" / "policy.toml"


def values_at(record: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield record
        return
    head, rest = path[0], path[1:]
    if head.endswith("[]"):
        head = head[:-2]
        inner = record.get(head) if isinstance(record, dict) else None
        for element in inner or []:
            yield from values_at(element, rest)
    elif isinstance(record, dict) and record.get(head) is not None:
        yield from values_at(record[head], rest)


def split(path: str) -> list[str]:
    parts: list[str] = []
    for part in path.split("."):
        parts.append(part)
    return parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--set", choices=("tuned", "heldout", "blind"), default="tuned",
                        help="tuned: the set the classifiers were tuned on; heldout: written afterwards, then "
                             "tuned on too; blind: written last, never tuned on")
    args = parser.parse_args()
    policy = load_policy(POLICY)
    kept = {category for category, strategy in policy.categories.items() if strategy == "keep"}
    totals = {"tp": 0, "fp": 0, "fn": 0, "personal": 0, "found": 0, "review": 0, "values": 0, "leaks": 0,
              "plain": 0, "kept": 0}
    print(f"{'topic':10} {'paths':>5} {'prec':>6} {'recall':>6} {'any':>6} {'review':>6} {'leaks':>11} {'kept':>13}")
    data = {"tuned": discover_data, "heldout": discover_heldout, "blind": discover_blind}[args.set]
    labels_by_topic = data.LABELS
    for topic, make in data.generators(args.seed).items():
        records = [make() for _ in range(args.records)]
        result = discover(records, topic)
        predicted = {field.path: field.decision.category for field in result.fields}
        labels = labels_by_topic[topic]
        tp = fp = fn = personal = found = 0
        for path, label in labels.items():
            guess = predicted.get(path.replace(".[]", "[]"), "<missing>")
            if guess == "<missing>":
                print(f"  {topic}: no field {path} in the proposal", file=sys.stderr)
                guess = None
            if label and guess == label:
                tp += 1
            if guess and guess != label:
                fp += 1
            if label and guess != label:
                fn += 1
            if label:
                personal += 1
                found += bool(guess)
            if args.verbose and guess != label:
                print(f"    {topic}.{path}: labelled {label}, proposed {guess}")
        leaks, checked, passed, plain = leaked(records, result, labels, policy, kept)
        review = len(result.review)
        print(f"{topic:10} {len(labels):5d} {tp / max(tp + fp, 1):6.2f} {tp / max(tp + fn, 1):6.2f} "
              f"{found / max(personal, 1):6.2f} {review:6d} {leaks:5d}/{checked:<5d} {passed:6d}/{plain:<6d}")
        for key, value in (("tp", tp), ("fp", fp), ("fn", fn), ("personal", personal), ("found", found),
                           ("review", review), ("values", checked), ("leaks", leaks), ("plain", plain),
                           ("kept", passed)):
            totals[key] += value
    t = totals
    print(f"{'all':10} {sum(len(v) for v in labels_by_topic.values()):5d} {t['tp'] / max(t['tp'] + t['fp'], 1):6.2f} "
          f"{t['tp'] / max(t['tp'] + t['fn'], 1):6.2f} {t['found'] / max(t['personal'], 1):6.2f} {t['review']:6d} "
          f"{t['leaks']:5d}/{t['values']:<5d} {t['kept']:6d}/{t['plain']:<6d}")
    if args.verbose:
        for path, count in sorted(LEAKED.items()):
            print(f"  leaked {count} value(s) of {path}")
    return 0


def leaked(records: list[dict[str, Any]], result: Any, labels: dict[str, str | None], policy: Any,
           kept: set[str]) -> tuple[int, int, int, int]:
    """Labelled personal values (of a category the policy does not keep) found in the anonymized output,
    of those checked; values of fields labelled not personal that pass unchanged, of those seen."""
    schema = build_schema(result)
    fields = {path: strategy for path, (strategy, _) in output_fields(schema, policy.categories).items()}
    output = OutputPolicy(output_topic(result.topic), result.topic, "analytics", fields=fields)
    plan = compile_plan(schema, output, policy)
    validate = compile_validator(schema)
    leaks = checked = passed = plain = 0
    for record in records[:200]:
        clean = validate(record)
        plan.apply(clean, b"k" * 32)
        text = json.dumps(clean, ensure_ascii=False)
        for path, label in labels.items():
            if not label:
                before = list(values_at(record, split(path)))
                after = list(values_at(clean, split(path)))
                plain += len(before)
                passed += len(before) if before == after else 0
                continue
            if label in kept or label in SCANNED:
                continue
            for value in values_at(record, split(path)):
                if isinstance(value, str) and len(value) >= 4:
                    checked += 1
                    if value in text:
                        leaks += 1
                        LEAKED[f"{result.topic}.{path}"] = LEAKED.get(f"{result.topic}.{path}", 0) + 1
    return leaks, checked, passed, plain


if __name__ == "__main__":
    raise SystemExit(main())
