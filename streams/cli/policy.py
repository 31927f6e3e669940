"""`lethe policy check` and `lethe policy explain`: a policy author's dry runs, no broker needed.

The logic is pure (processors/policy_check.py, processors/explain.py); this module reads the
files, makes the run's throwaway keys and prints a table for people or JSON for tools.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.cli.common import _parse, _read_text
from streams.exceptions import UsageError
from streams.settings import Settings
from streams.text import plural

if TYPE_CHECKING:
    from processors.explain import Destination, Explanation
    from processors.policy import Policy
    from processors.policy_check import CheckReport

WIDE = 32   # a value longer than this is cut in the table (--json has it whole)


def _settings(policy: Path | None) -> Settings:
    """The worker's settings, with ``policy`` instead of LETHE_POLICY and a throwaway pseudonym key
    (nothing is written: no key file is made, none is read)."""
    if policy is not None and not policy.is_file():
        raise UsageError(f"{policy}: no such file (give a policy file, e.g. deploy/policy.toml)")
    env = dict(os.environ, LETHE_PSEUDONYM_KEY=secrets.token_hex(32))
    if policy is not None:
        env["LETHE_POLICY"] = str(policy)
    return Settings.from_env(env)


def cmd_policy_check(args: argparse.Namespace) -> int:
    from processors.decode import Limits
    from processors.policy_check import check_policy

    settings = _settings(args.file)
    report = check_policy(settings.policy_path, settings.schemas_dir, settings.pseudonym_key.reveal(),
                          Limits(max_record_bytes=settings.max_record_bytes))
    if args.json:
        print(json.dumps(_check_json(report), indent=2, ensure_ascii=False))
    else:
        print("\n".join(_check_lines(report)))
    return 0 if report.ok else 1


def _check_json(report: CheckReport) -> dict[str, Any]:
    out: dict[str, Any] = {"policy": report.path, "ok": report.ok, "problems": list(report.problems),
                           "checked": list(report.checked), "not_checked": list(report.not_checked)}
    if report.policy is not None:
        out["summary"] = {heading: items for heading, items in _summary(report.policy)}
        out["review"] = report.review
    return out


def _check_lines(report: CheckReport) -> list[str]:
    if not report.ok:
        lines = [f"policy {report.path}: {plural(len(report.problems), 'problem')}"]
        lines += [f"  {problem}" for problem in report.problems]
    else:
        assert report.policy is not None
        lines = [f"policy {report.path} (version {report.policy.version}): no problems"]
        for heading, items in _summary(report.policy):
            lines += [f"  {heading:<10} {item}" if n == 0 else f"  {'':<10} {item}" for n, item in enumerate(items)]
        lines += [f"  review     source {topic}: {plural(count, 'schema field')} marked \"review\" (lethe discover)"
                  for topic, count in report.review.items()]
    lines += ["checked:", *(f"  {stage}" for stage in report.checked)]
    if report.not_checked:
        lines += ["not checked until the problems above are fixed:", *(f"  {stage}" for stage in report.not_checked)]
    return lines


def _summary(policy: Policy) -> list[tuple[str, list[str]]]:
    """What the policy declares, one line per entry, under a heading per kind."""
    from processors.explain import describe_rules

    sources = [f"{s.topic} ({s.kind}, schema {s.schema}, subject {'.'.join(s.subject) if s.subject else 'none'})"
               for s in policy.sources.values()]
    outputs = [f"{o.topic} from {o.source} (purpose {o.purpose}"
               + (f"; consent {', '.join(o.consent)}" if o.consent else "")
               + (f"; region {o.region}" if o.region else "") + ")"
               for o in policy.outputs.values() if o.partner is None]
    partners = [f"{p.name}: {p.topic} from {p.source} ({p.purpose}; basis {p.basis}; {p.region}, safeguard "
                f"{p.safeguard}; {plural(len(p.fields), 'field')})" for p in policy.partners.values()]
    retention = [rule for source in policy.sources for rule in describe_rules(policy, source)]
    transfers = ([f"{plural(len(policy.transfers.rules), 'rule')}; default origin {policy.transfers.default_origin}"]
                 if policy.transfers is not None else ["none declared: no output is a transfer"])
    return [("sources", sources), ("outputs", outputs), ("partners", partners or ["none"]),
            ("retention", retention or ["none"]), ("transfers", transfers),
            ("rights", [f"stores {', '.join(policy.rights.stores)}; due in {policy.rights.deadline_days} "
                        f"{'business ' if policy.rights.business_days else ''}days"])]


def cmd_policy_explain(args: argparse.Namespace) -> int:
    from processors.decode import Limits
    from processors.explain import explain
    from processors.policy import load_policy
    from processors.pseudonym import new_subject_secret
    from processors.schemas import SchemaCatalog

    settings = _settings(args.policy)
    policy = load_policy(settings.policy_path)
    if args.topic not in policy.sources:
        raise UsageError(f"--topic {args.topic}: not a source of {settings.policy_path} (its sources: "
                         f"{', '.join(policy.sources)})")
    name, raw = _event(args, settings)
    result = explain(policy, SchemaCatalog.load(settings.schemas_dir), args.topic, raw,
                     settings.pseudonym_key.reveal(), new_subject_secret(),
                     Limits(max_record_bytes=settings.max_record_bytes))
    if args.json:
        print(json.dumps({"event": name, **result.as_json()}, indent=2, ensure_ascii=False))
    else:
        print("\n".join(_explain_lines(result, name)))
    return 0 if result.valid else 1


def _event(args: argparse.Namespace, settings: Settings) -> tuple[str, bytes]:
    """(where the event is from, its bytes as `lethe publish` would send them)."""
    from processors.schemas import default_schema_dir
    from streams.cli.events import _encoder

    path: Path | None = args.event
    if path is None:
        candidates = [settings.schemas_dir / "examples" / f"{args.topic}.json",
                      default_schema_dir() / "examples" / f"{args.topic}.json"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise UsageError(f"no example event for {args.topic} in {candidates[0].parent}: give an event file, "
                             f"e.g. lethe policy explain --topic {args.topic} event.json")
        relative = os.path.relpath(found)
        path = Path(relative) if not relative.startswith("..") else found
    text = _read_text(path)
    try:
        events = _parse(str(path), text)
    except UsageError:   # not JSON: the worker would dead-letter it, and explain says why
        return str(path), path.read_bytes()
    if not 1 <= args.index <= len(events):
        raise UsageError(f"--index {args.index}: {path} holds {plural(len(events), 'event')}")
    where = f"{path}" + (f", event {args.index} of {len(events)}" if len(events) > 1 else "")
    return where, _encoder("json", settings, args.topic)(events[args.index - 1])


def _explain_lines(result: Explanation, name: str) -> list[str]:
    from processors.explain import GATES, THROWAWAY

    if not result.valid:
        assert result.dlq is not None
        dlq = result.dlq
        return [f"{result.source}: the event of {name} is invalid: a worker dead-letters it to dlq.v1 with",
                f"  reason      {dlq['reason']}", f"  rule        {dlq['rule']}",
                f"  field_path  {dlq['field_path'] or '(the whole record)'}"]
    subject = f"subject {result.subject}" if result.subject else "no subject"
    lines = [f"{result.source}: the event of {name} is valid ({subject})", f"note: {THROWAWAY}"]
    if result.minor:
        lines.append(f"quarantined by {result.minor}")
    for destination in result.destinations:
        lines += ["", *_destination_lines(destination)]
    if result.unknown:
        lines += ["", "fields the schema does not declare (dropped from every output; counted, and audited when "
                      "personal data is found in them):"]
        lines += [f"  {path}" + (f": found inside: {', '.join(found)}" if found else "")
                  for path, found in result.unknown.items()]
    lines += ["", "gates (none in force here; any of these holds the event back):"]
    lines += [f"  {text}" for text in GATES.values()]
    lines += ["", "retention: deadlines this event sets" if result.deadlines
              else "retention: this event sets no deadline"]
    lines += [f"  {d.rule}: {d.action} record {d.record_key} at {d.due}"
              + (f" ({', '.join(d.categories)})" if d.categories else "") for d in result.deadlines]
    lines += [f"  rule {rule}" for rule in result.rules] or [f"  no retention rule covers {result.source}"]
    return lines


def _destination_lines(d: Destination) -> list[str]:
    who = f"partner {d.partner}: {d.purpose}, basis {d.basis}" if d.partner else f"purpose {d.purpose}"
    key = d.key_from + (" (raw)" if d.partner and d.key_from != "the subject's pseudonym" else "")
    lines = [f"{d.topic} ({who}), keyed by {key}" + (f": {_show(d.key)}" if d.key is not None else "")]
    consent = [f"{purpose} ({'needs a current grant' if kind == 'opt-in' else 'held back once refused or withdrawn'})"
               for purpose, kind in d.consent]
    lines.append(f"  consent   {'; '.join(consent) if consent else 'none required'}")
    if d.transfer is not None:
        t = d.transfer
        origin = f"{t.origin_field} {_show(t.origin_value)}" if t.origin_field else "the default origin"
        same = " (same region: no transfer)" if t.origin == t.destination else f", safeguard {t.safeguard}"
        lines.append(f"  transfer  origin {t.origin} ({origin}) to {t.destination}: {t.decision}{same}"
                     + ("" if d.published else "; not published"))
    rows = [("field", "category", "strategy", "value", "published", "chosen by")]
    rows += [(r.path, r.category or "-", r.strategy, _show(r.value),
              _show(r.result) if d.published else "(not published)",
              r.entry + (f"; found inside: {', '.join(r.found)}" if r.found else "")) for r in d.fields]
    widths = [max(len(row[n]) for row in rows) for n in range(5)]
    lines += ["  " + "  ".join(cell.ljust(widths[n]) if n < 5 else cell for n, cell in enumerate(row)).rstrip()
              for row in rows]
    lines.append("  only these fields are published (minimum necessary)" if d.partner
                 else "  fields without a data category are published as they are")
    return lines


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= WIDE else text[:WIDE - 1] + "…"
