"""`lethe discover`: sample a topic (or a JSON-lines file), propose its schema and policy stanza.

Writes ``<out>/<topic>.avsc`` and ``<out>/<topic>.policy.toml`` and prints a report of what it
found per field path; registers nothing. Progress goes to stderr; no field value is ever printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from processors.discover.infer import too_deep
from processors.errors import InvalidRecord
from streams.cli.common import _bootstrap, _read_events
from streams.exceptions import UsageError
from streams.settings import Settings
from streams.text import plural

PROGRESS_EVERY = 100


def cmd_discover(args: argparse.Namespace) -> int:
    from processors.discover.propose import DROPPED, discover
    from processors.discover.report import report_text
    from processors.discover.schema import build_schema
    from processors.discover.stanza import policy_text
    from processors.policy import load_policy
    from processors.schemas import _load_one
    from processors.validate import compile_validator

    settings = Settings.from_env()
    if args.topic is None and args.file is None:
        raise UsageError("give a TOPIC to sample, or --file FILE.jsonl")
    name = args.name or args.topic or _stem(args.file)
    out: Path = args.out or settings.schemas_dir
    schema_path, policy_path = out / f"{name}.avsc", out / f"{name}.policy.toml"
    existing = [str(path) for path in (schema_path, policy_path) if path.exists()]
    if existing and not args.force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise UsageError(f"{' and '.join(existing)} {verb}; pass --force to overwrite, or --out another directory")
    if args.max_records < 1 or args.max_seconds <= 0:
        raise UsageError("--max-records must be at least 1 and --max-seconds above 0")
    source = f"file {args.file}" if args.file else f"topic {settings.topics.name(args.topic)}"
    records, skipped = _sample(args, settings)
    if not records:
        raise UsageError(f"no JSON object records in {source} (skipped {skipped}); nothing to discover")
    policy = load_policy(settings.policy_path)
    categories = policy.categories
    region = policy.transfers.default_origin if policy.transfers is not None else "EU"
    dropped = tuple(category for category, strategy in categories.items() if strategy == "drop") or DROPPED
    result = discover(records, name, dropped)
    if skipped:
        result.notes.append(f"{plural(skipped, 'record')} skipped: not JSON objects, or nested deeper than 64 levels "
                            "(Avro input is not sampled)")
    schema = build_schema(result)
    rejected = _rejected(compile_validator(schema), records)
    if rejected:
        result.notes.append(f"{plural(sum(rejected.values()), 'sampled record')} would not validate: "
                            + ", ".join(f"{where} ({count})" for where, count in rejected.most_common(5)))
    out.mkdir(parents=True, exist_ok=True)
    schema_path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _load_one(name, schema_path)   # loads as the worker will
    policy_path.write_text(policy_text(result, schema, schema_path.name, categories, region), encoding="utf-8")
    sys.stdout.write(report_text(result))
    print(f"lethe: wrote {schema_path} and {policy_path}; review them, then add the stanza to your policy "
          "(nothing was registered)", file=sys.stderr)
    return 0


def _rejected(validate: Callable[[Any], Any], records: list[dict[str, Any]]) -> Counter[str]:
    """Where sampled records fail the proposed schema (Lethe's limits, e.g. a string over 64 KiB); never values."""
    failures: Counter[str] = Counter()
    for record in records:
        try:
            validate(record)
        except InvalidRecord as exc:
            failures[f"{exc.path or '<record>'}: {exc.rule}"] += 1
    return failures


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl", ".ndjson", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _sample(args: argparse.Namespace, settings: Settings) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    skipped = 0
    started = time.monotonic()
    for value in _values(args, settings):
        if isinstance(value, dict) and not too_deep(value):
            records.append(value)
        else:
            skipped += 1
        seen = len(records) + skipped
        if seen % PROGRESS_EVERY == 0:
            print(f"lethe: sampled {plural(seen, 'record')} in {time.monotonic() - started:.1f}s", file=sys.stderr)
        if len(records) >= args.max_records or time.monotonic() - started > args.max_seconds:
            break
    print(f"lethe: sampled {plural(len(records), 'record')}" + (f", skipped {skipped}" if skipped else "")
          + f" in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return records, skipped


def _values(args: argparse.Namespace, settings: Settings) -> Iterator[Any]:
    if args.file is not None:
        yield from _read_events([args.file])
        return
    from streams.client import read

    topic = settings.topics.name(args.topic)
    for record in read(_bootstrap(), [topic], expect=args.max_records, timeout=args.max_seconds, idle=3.0):
        try:
            yield json.loads(record.value or b"")
        except (UnicodeDecodeError, json.JSONDecodeError):
            yield None
