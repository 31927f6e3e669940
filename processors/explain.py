"""``lethe policy explain``: what the policy does to one event, output by output, field by field.

The event goes through its source's :class:`~processors.pipeline.TopicPipeline`, compiled as a
worker compiles it (:func:`~processors.pipeline.compile_pipelines`), decoded and validated by the
same decoder, tagged and anonymized for every output and partner, with its transfer decisions and
the retention deadlines it sets. Two things differ from a worker, by design: the master key and
the subject's secret are made for this run only (so the pseudonyms shown are not any deployment's),
and no gate is in force (which gates could hold the event back is listed instead).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from processors.decode import DEFAULT_LIMITS, Limits
from processors.errors import PolicyError
from processors.minors import RULE
from processors.pipeline import TopicPipeline, compile_pipelines
from processors.plan import FieldOp, get_path, personal_fields
from processors.policy import OutputPolicy, Policy
from processors.retention.rules import UNITS
from processors.schemas import SchemaCatalog
from processors.time import iso

THROWAWAY = ("pseudonyms come from a master key and subject secret made for this run only: a deployment's "
             "differ (the fields, strategies and decisions do not)")
# the requests that hold a subject's records back (processors/rights/), whatever the event
GATES = {
    "restrict": "a restriction holds the subject's records back from every output and partner until lifted",
    "object": "an objection holds them back from the outputs and partners of the purpose objected to "
              "(every one if it names none) until lifted",
    "minor_flag": "a quarantine (minor_flag) holds them back from every output and partner, and erases the subject "
                  "(filed by Lethe itself when a date of birth shows a minor: [minors])",
}


@dataclass(frozen=True)
class FieldRow:
    path: str           # dotted, [] for an array's items, {} for a map's values
    category: str       # "" for a partner's declared field that is not personal
    strategy: str       # the strategy applied (a pseudonymizing transfer's where one applies)
    entry: str          # the policy entry that chose it
    value: Any          # the event's value (a list through arrays or maps); None when absent
    result: Any         # the value published
    found: tuple[str, ...] = ()   # free text: the data categories found inside


@dataclass(frozen=True)
class Transfer:
    origin: str
    origin_field: str | None    # the field the origin is read from (None: the default origin)
    origin_value: Any           # the event's value of that field
    destination: str
    decision: str               # allow | pseudonymize | block
    safeguard: str


@dataclass(frozen=True)
class Destination:
    topic: str
    purpose: str
    partner: str | None
    basis: str | None           # a partner's legal basis
    consent: tuple[tuple[str, str], ...]   # (purpose, "opt-in" | "opt-out") that must allow the subject
    published: bool             # False: a transfer rule blocks it
    key: str | None             # the record key published
    key_from: str               # what the key is: "the subject's pseudonym" or a field path (raw)
    transfer: Transfer | None
    fields: tuple[FieldRow, ...]
    tags: dict[str, str]        # lethe.tags of the published record


@dataclass(frozen=True)
class Deadline:
    rule: str
    action: str
    due: str                    # RFC 3339, UTC
    record_key: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    source: str
    valid: bool
    dlq: dict[str, str] | None = None   # an invalid event: the rule, field path and reason its dead letter gets
    subject: str | None = None          # the subject id's path
    destinations: tuple[Destination, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    rules: tuple[str, ...] = ()         # the source's retention rules, described
    # fields the schema does not declare (dropped from every output): path -> data categories found in them
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)
    minor: str | None = None            # the minors rule fired: what it does (processors/minors.py)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.valid:
            out["pseudonyms"] = THROWAWAY
            out["gates"] = GATES
        return out


class _NoGates:
    """The per-subject state of a run: the throwaway secret, no gate in force."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def secret(self, subject: str, partition: int) -> bytes | None:
        return self._secret

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        return None


def explain(policy: Policy, catalog: SchemaCatalog, source: str, raw: bytes, master_key: bytes, secret: bytes,
            limits: Limits = DEFAULT_LIMITS) -> Explanation:
    """Run one event (its bytes, as a producer sends them) through ``source``'s pipeline and say what it did."""
    pipelines = compile_pipelines(policy, catalog, master_key, limits)
    pipeline = pipelines.get(source)
    if pipeline is None:
        raise PolicyError(f"{source} is not a source the policy declares (declared: {', '.join(policy.sources)})")
    decoded = pipeline.decode([raw])
    if decoded.dead:
        err = decoded.dead[0][1]
        return Explanation(source, False, {"rule": err.rule, "field_path": err.path, "reason": err.reason})
    original = copy.deepcopy(decoded.records[0][1])
    result = pipeline.process([raw], [0], _NoGates(secret))
    published = {out.topic: out for out in result.outputs}
    decisions = {output: (origin, destination, decision)
                 for output, origin, destination, decision in result.transfers}
    declared = policy.sources[source]
    order = {info.dotted: n for n, info in enumerate(personal_fields(catalog.for_topic(declared.schema_name).raw))}
    destinations = []
    for n, output in enumerate(policy.outputs_for(source)):
        out = published.get(output.topic)
        record = orjson.loads(out.value) if out is not None else None
        tags = record["lethe"]["tags"] if record is not None else {}
        transfer = _transfer(policy, pipeline, decisions.get(output.topic), original)
        ops = sorted(pipeline.plans[n].ops, key=lambda op: order.get(op.dotted, len(order)))
        rows = _rows(policy, output, ops, original, record, tags, transfer)
        key = out.key.decode() if out is not None and out.key is not None else None
        destinations.append(Destination(
            output.topic, output.purpose, output.partner,
            policy.partners[output.partner].basis if output.partner else None,
            tuple((p, "opt-in" if p in policy.consent.opt_in else "opt-out") for p in output.consent),
            out is not None, key, ".".join(output.key) if output.key else "the subject's pseudonym",
            transfer, rows, tags))
    deadlines = tuple(Deadline(t.rule, t.action, iso(t.due), t.record_key, t.categories) for _, t in result.timers)
    unknown = {path: tuple(sorted(result.unknown.personal.get(path, ()))) for path in result.unknown.counts}
    minor = (f"{RULE}: the date of birth ({'.'.join(declared.date_of_birth or ())}) makes the subject younger than "
             f"{policy.minors.age} at the event's time: the event reaches no output or partner, and Lethe files one "
             "minor_flag request that quarantines and erases the subject" if result.minors else None)
    return Explanation(source, True, None, ".".join(declared.subject) if declared.subject else None,
                       tuple(destinations), deadlines, describe_rules(policy, source), unknown, minor)


def _transfer(policy: Policy, pipeline: TopicPipeline, decided: tuple[str, str, str] | None,
              original: dict[str, Any]) -> Transfer | None:
    if decided is None or policy.transfers is None:
        return None
    origin, destination, decision = decided
    _decision, safeguard = policy.transfers.decide(origin, destination)
    path = pipeline.origin_path
    return Transfer(origin, ".".join(path) if path else None, get_path(original, path) if path else None, destination,
                    decision, safeguard)


def _rows(policy: Policy, output: OutputPolicy, ops: list[FieldOp], original: dict[str, Any],
          record: dict[str, Any] | None, tags: dict[str, str], transfer: Transfer | None) -> tuple[FieldRow, ...]:
    """One row per personal field (a partner: per declared field, personal or not)."""
    by_path = {op.dotted: op for op in ops}
    paths = list(output.projection) if output.projection is not None else [op.dotted for op in ops]
    rows = []
    for path in paths:
        op = by_path.get(path)
        segments = op.info.path if op is not None else tuple(path.split("."))
        value = _values(original, segments)
        result = _values(record, segments) if record is not None else None
        if op is None:   # a partner's declared field without a category: passed as it is
            rows.append(FieldRow(path, "", "keep", f'partners."{output.partner}".fields."{path}"', value, result))
            continue
        strategy, found = _applied(tags.get(path), op.strategy)
        entry = output.strategy_for(op.category, path, policy.categories)[1]
        if transfer is not None and transfer.decision == "pseudonymize" and strategy != op.strategy:
            entry = (f"transfers: {transfer.origin} to {transfer.destination} is pseudonymize "
                     f"({entry} says {op.strategy})")
        rows.append(FieldRow(path, op.category, strategy, entry, value, result, found))
    return tuple(rows)


def _applied(tag: str | None, planned: str) -> tuple[str, tuple[str, ...]]:
    """(strategy, categories found inside) from a tag ``category:strategy[found,...]`` (absent: the plan's)."""
    if tag is None:
        return planned, ()
    strategy = tag.split(":", 1)[1]
    name, _, inside = strategy.partition("[")
    return name, tuple(c for c in inside.rstrip("]").split(",") if c)


def _values(record: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path``; through arrays (``[]``) and maps (``{}``) the list of every value found."""
    values, spread = [record], False
    for segment in path:
        found: list[Any] = []
        for value in values:
            if segment == "[]":
                found += value if isinstance(value, list) else []
            elif segment == "{}":
                found += list(value.values()) if isinstance(value, dict) else []
            else:
                found.append(get_path(value, (segment,)) if isinstance(value, dict) else None)
        values, spread = found, spread or segment in ("[]", "{}")
    return values if spread else values[0]


def describe_rules(policy: Policy, source: str) -> tuple[str, ...]:
    """The source's retention rules, e.g. ``orders-completed: on event_type completed, anonymize after 7y``."""
    status = policy.sources[source].status
    described = []
    for rule in policy.retention.values():
        if rule.source != source:
            continue
        when = (f"on {'.'.join(status or ())} {', '.join(rule.on)}" if rule.trigger == "order_event"
                else "from the event time")
        described.append(f"{rule.name}: {when}, {rule.action} after {_duration(rule.after_seconds)}")
    return tuple(described)


def _duration(seconds: float) -> str:
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
