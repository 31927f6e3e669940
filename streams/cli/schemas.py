"""`lethe schemas`: check the policy's sources and write each output's derived Avro schema.

A worker derives every output's schema at start-up (processors/derive.py), so nothing needs this
to run; Avro consumers of an output of your own source read their schema from the file it writes.
Runs the same checks as a worker's start-up, without a broker.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.exceptions import UsageError
from streams.settings import Settings
from streams.text import plural


def cmd_schemas(args: argparse.Namespace) -> int:
    from processors.derive import dumps
    from processors.policy import load_policy
    from processors.schemas import SchemaCatalog
    from processors.sources import check_sources, fields_for_review

    settings = Settings.from_env()
    policy = load_policy(settings.policy_path)
    catalog = SchemaCatalog.load(settings.schemas_dir)
    check_sources(policy, catalog)
    out: Path = args.out or settings.schemas_dir
    if not out.is_dir():
        raise UsageError(f"--out {out}: no such directory")
    for output in policy.outputs.values():
        source = catalog.for_topic(policy.sources[output.source].schema_name)
        target = out / f"{output.topic}.avsc"
        text = dumps(catalog.output(output.topic, source, output.projection, output.partner).raw) + "\n"
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            print(f"lethe: {target} is up to date", file=sys.stderr)
            continue
        if target.is_file() and not args.force:
            raise UsageError(f"{target} exists and differs from the derivation; pass --force to overwrite it")
        target.write_text(text, encoding="utf-8")
        print(f"lethe: wrote {target} (derived from {output.source})", file=sys.stderr)
    for topic, count in fields_for_review(policy, catalog).items():
        verb = "awaits" if count == 1 else "await"
        print(f"lethe: source {topic}: {plural(count, 'schema field')} {verb} review (\"review\" attribute)",
              file=sys.stderr)
    outputs = plural(len(policy.outputs) - len(policy.partners), "output")
    partners = f" and {plural(len(policy.partners), 'partner')}" if policy.partners else ""
    print(f"lethe: policy {settings.policy_path}: {plural(len(policy.sources), 'source')}"
          f"{', ' if partners else ' and '}{outputs}{partners} check out", file=sys.stderr)
    return 0
