"""Sources: the input topics a policy declares, and their checks against the schemas.

    [sources."orders.v1"]
    schema = "orders.v1.avsc"     # file name inside LETHE_SCHEMAS_DIR (default: the shipped schemas/)
    kind = "records"              # records: rows with a record id (orders-like); events: one row per event
    subject = "customer_id"       # dotted path of the data subject's id (also the Kafka key);
                                  # events only: may be left out (no data subject at all)
    record_id = "order_id"        # dotted path of the record id (records: the row; events: the event)
    event_time = "occurred_at"    # dotted path of the RFC 3339 event time
    status = "event_type"         # records only, optional: the values retention rules' `on` match
    session = "session_id"        # optional: dotted path of the visitor's session id; a record is
                                  # then gated by its session's cookie-banner choice where its
                                  # customer has no decision of their own (processors/consent.py)
    date_of_birth = "customer.date_of_birth"   # optional: the subject's YYYY-MM-DD date of birth, for
                                  # the minors rule ([minors], processors/minors.py)
    raw_retention = "7d"          # the topic's retention (retention.ms), default 7d: its records of an
                                  # erased subject go when it expires them (the erasure receipt's date)
    raw_retention_reason = "..."  # needed if raw_retention is longer than the erasure deadline
                                  # ([rights] deadline_days): start-up refuses it otherwise

A source's *family* (what lifecycle commands, store mappings and timers name) is its topic without
a trailing ``.v<N>``: ``orders.v1`` -> ``orders``. :func:`parse_sources` checks the stanza alone;
:func:`check_sources` checks it against its schema (every path exists, every personal field has a
known category, every output has a strategy for every category its source carries) and names the
source, the path and the rule of whatever is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from processors.errors import PolicyError, Problems

if TYPE_CHECKING:
    from processors.policy import OutputPolicy, Policy
    from processors.retention.rules import RetentionRule
    from processors.rights.base import Rights
    from processors.schemas import SchemaCatalog

KINDS = ("records", "events")
PERSONAL_FORMATS = ("ip", "user_agent", "latitude", "longitude", "postcode", "subject")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_VERSION = re.compile(r"\.v\d+$")
FAMILY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PATH_KEYS = ("subject", "record_id", "event_time", "status", "date_of_birth", "session")
OPTIONAL_PATHS = ("status", "date_of_birth", "session")
RAW_RETENTION_S = 7 * 86_400.0   # what `lethe topics create` gives an input topic (streams/topics.py)


@dataclass(frozen=True)
class Source:
    topic: str
    schema: str                      # file name inside the schemas directory
    kind: str                        # records | events
    subject: tuple[str, ...] | None  # None: events without a data subject (anonymous telemetry)
    record_id: tuple[str, ...]
    event_time: tuple[str, ...]
    status: tuple[str, ...] | None = None
    date_of_birth: tuple[str, ...] | None = None
    session: tuple[str, ...] | None = None   # the session id whose banner choice gates a record
    raw_retention_s: float = RAW_RETENTION_S      # how long the topic keeps a record (its retention.ms)
    raw_retention_reason: str | None = None       # why longer than the erasure deadline, if it is

    @property
    def family(self) -> str:
        return family_of(self.topic)

    @property
    def schema_name(self) -> str:
        """The schema's name in the catalogue (its file name without .avsc)."""
        return self.schema.removesuffix(".avsc")

    def paths(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        for key in PATH_KEYS:
            path = getattr(self, key)
            if path is not None:
                yield key, path


def family_of(topic: str) -> str:
    return _VERSION.sub("", topic).lower()


# The shipped example sources, as deploy/policy.toml declares them. A policy without [sources]
# (one written before sources existed) gets these two.
SHIPPED: dict[str, Source] = {
    "orders.v1": Source("orders.v1", "orders.v1.avsc", "records", ("customer_id",), ("order_id",),
                        ("occurred_at",), ("event_type",), ("customer", "date_of_birth")),
    "logs.v1": Source("logs.v1", "logs.v1.avsc", "events", ("customer_id",), ("event_id",), ("occurred_at",),
                      session=("session_id",)),
}


def parse_sources(raw: Any, origin: str, problems: Problems | None = None) -> dict[str, Source]:
    """The [sources] tables, each checked alone. With ``problems``, an entry with a problem is
    recorded there and left out; without, the problems of every entry are raised together."""
    if raw is None:
        return dict(SHIPPED)
    if not isinstance(raw, dict) or not raw:
        raise PolicyError(f"policy {origin}: [sources] must hold one table per input topic")
    collected = Problems() if problems is None else problems
    sources = {}
    for topic, spec in raw.items():
        source = collected.run(_parse_source, topic, spec, origin)
        if source is not None:
            sources[topic] = source
    if problems is None:
        collected.check()
    return sources


def _parse_source(topic: str, spec: Any, origin: str) -> Source:
    where = f'sources."{topic}"'

    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: {where}{message}")

    if not isinstance(spec, dict):
        raise fail(" must be a table")
    extra = set(spec) - {"schema", *PATH_KEYS, "kind", "raw_retention", "raw_retention_reason"}
    if extra:
        raise fail(f": unknown key(s) {', '.join(sorted(extra))}")
    if not FAMILY_NAME.match(family_of(topic)) or not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", topic):
        raise fail(": not a Kafka topic name (letters, digits, . _ -)")
    schema = spec.get("schema", f"{topic}.avsc")
    if not isinstance(schema, str) or not schema.endswith(".avsc") or "/" in schema or "\\" in schema:
        raise fail(f".schema = {schema!r}: give a .avsc file name inside the schemas directory")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise fail(f".kind = {kind!r}: use records (rows with a record id) or events (one row per event)")
    paths: dict[str, tuple[str, ...] | None] = {}
    for key in PATH_KEYS:
        value = spec.get(key)
        if value is None and (key in OPTIONAL_PATHS or (key == "subject" and kind == "events")):
            paths[key] = None
            continue
        if not isinstance(value, str) or not _PATH.match(value):
            raise fail(f".{key} = {value!r}: give the dotted path of a field (e.g. customer.id)")
        paths[key] = tuple(value.split("."))
    if kind == "events" and paths["status"] is not None:
        raise fail(".status is for kind = 'records' only")
    if paths["date_of_birth"] is not None and paths["subject"] is None:
        raise fail(".date_of_birth needs a subject: the minors rule quarantines and erases a data subject")
    from processors.retention.rules import parse_duration  # rules import this module

    try:
        retention = parse_duration(spec.get("raw_retention", "7d"))
    except ValueError as exc:
        raise fail(f".raw_retention = {spec.get('raw_retention')!r}: {exc} (the topic's retention.ms)") from None
    reason = spec.get("raw_retention_reason")
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        raise fail(".raw_retention_reason must say, in words, why the topic keeps records that long")
    return Source(topic, schema, kind, paths["subject"], paths["record_id"] or (), paths["event_time"] or (),
                  paths["status"], paths["date_of_birth"], paths["session"], retention, reason)


def check_raw_retention(sources: Mapping[str, Source], rights: Rights, origin: str) -> list[str]:
    """A source whose topic keeps raw records longer than an erasure may take, without a stated reason:
    an erased subject's records would outlive the erasure's deadline there."""
    from processors.rights.base import shortest_deadline_s

    span = shortest_deadline_s(rights)
    return [f'policy {origin}: sources."{s.topic}".raw_retention = {s.raw_retention_s / 86_400:g}d is longer than '
            f"the erasure deadline ([rights] deadline_days = {rights.deadline_days}, at least {span / 86_400:g} days): "
            "shorten the topic's retention (and raw_retention with it), or state why in raw_retention_reason"
            for s in sources.values() if s.raw_retention_s > span and not s.raw_retention_reason]



# --- checks against the schemas ---------------------------------------------------------------

def _branches(avro_type: Any) -> list[Any]:
    return avro_type if isinstance(avro_type, list) else [avro_type]


def _base(avro_type: Any, named: Mapping[str, Any]) -> tuple[Any, bool]:
    """The non-null type of a field (a named type resolved) and whether it may be null."""
    branches = _branches(avro_type)
    nullable = "null" in branches
    rest = [b for b in branches if b != "null"]
    base = rest[0] if len(rest) == 1 else {"type": "union"}
    if isinstance(base, str) and base in named:
        base = named[base]
    if isinstance(base, dict) and base.get("type") in ("string", "int", "long", "double", "float", "boolean"):
        base = base["type"]
    return base, nullable


def _named_types(schema: Any, namespace: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        ns = schema.get("namespace", namespace)
        if kind in ("record", "enum", "fixed") and "name" in schema:
            out[schema["name"]] = schema
            out[f"{ns}.{schema['name']}" if ns else schema["name"]] = schema
        for f in schema.get("fields", []) if kind == "record" else []:
            _named_types(f["type"], ns, out)
        if kind == "array":
            _named_types(schema["items"], ns, out)
        elif kind == "map":
            _named_types(schema["values"], ns, out)
        elif isinstance(kind, (dict, list)):
            _named_types(kind, ns, out)
    return out


def field_at(schema: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], Any, bool] | None:
    """The field at a dotted path through records (not arrays or maps): (field, base type, nullable)."""
    named = _named_types(schema)
    record: Any = schema
    nullable = False
    found: tuple[dict[str, Any], Any, bool] | None = None
    for segment in path:
        if not isinstance(record, dict) or record.get("type") != "record":
            return None
        f = next((f for f in record["fields"] if f["name"] == segment), None)
        if f is None:
            return None
        base, optional = _base(f["type"], named)
        nullable = nullable or optional
        found = (f, base, nullable)
        record = base
    return found


def every_field(schema: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, field) of every field at any depth: records, arrays ([]), maps ({}), unions."""
    if isinstance(schema, list):
        for branch in schema:
            yield from every_field(branch, prefix)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "record":
            for f in schema["fields"]:
                path = f"{prefix}{f['name']}"
                yield path, f
                yield from every_field(f["type"], f"{path}.")
        elif kind == "array":
            yield from every_field(schema["items"], prefix.rstrip(".") + "[].")
        elif kind == "map":
            yield from every_field(schema["values"], prefix.rstrip(".") + "{}.")
        elif isinstance(kind, (dict, list)):
            yield from every_field(kind, prefix)


def check_sources(policy: Policy, catalog: SchemaCatalog) -> None:
    """Check every source against its schema and every output against its source (start-up).

    Each source, output, partner and retention rule is checked on its own and every problem is
    raised at once; the outputs and partners of a source whose schema is missing are checked
    once it is there."""
    from processors.partners import check_partner
    from processors.transfers import check_origin_fields

    problems = Problems()
    for source in policy.sources.values():
        carried = problems.run(_check_source, policy, catalog, source)
        for output in policy.outputs_for(source.topic) if carried is not None else ():
            if output.projection is None:   # a partner: undeclared fields are dropped
                problems.run(_check_output, policy, source, output, carried)
    problems.run(check_origin_fields, policy.transfers, policy.sources, catalog, policy.path)
    for partner in policy.partners.values():
        if policy.sources[partner.source].schema_name in catalog.current:
            problems.run(check_partner, policy, catalog, partner)
    for rule in policy.retention.values():
        problems.run(_check_retention_values, policy, catalog, rule)
    problems.check()


def _check_source(policy: Policy, catalog: SchemaCatalog, source: Source) -> dict[str, str]:
    """One source against its schema; the data categories its schema carries (category -> a field path)."""
    from processors.policy import CATEGORIES

    where = f'policy {policy.path}: sources."{source.topic}"'
    if source.schema_name not in catalog.current:
        raise PolicyError(f"{where}.schema = {source.schema!r}: no such file in {catalog.directory} "
                          "(rule: a source's schema is a .avsc file in LETHE_SCHEMAS_DIR)")
    schema = catalog.current[source.schema_name].raw
    for key, path in source.paths():
        dotted = ".".join(path)
        found = field_at(schema, path)
        if found is None:
            raise PolicyError(f"{where}.{key} = {dotted!r}: not a field of {source.schema} "
                              "(rule: every declared path names a field, through records only)")
        _f, base, nullable = found
        if key == "status":
            if not (base == "string" or (isinstance(base, dict) and base.get("type") == "enum")):
                raise PolicyError(f"{where}.status = {dotted!r}: is not a string or an enum "
                                  "(rule: status values are what retention rules' `on` match)")
        elif base != "string":
            raise PolicyError(f"{where}.{key} = {dotted!r}: is not a string in {source.schema} "
                              f"(rule: {key} must be a string field)")
        if nullable and (key in ("record_id", "event_time") or (key == "subject" and source.kind == "records")):
            raise PolicyError(f"{where}.{key} = {dotted!r}: may be null in {source.schema} "
                              f"(rule: {key} must always be present"
                              + ("; only events may lack a subject)" if key == "subject" else ")"))
    for key, tag in (("subject", "identifier.customer"), ("session", "identifier.session")):
        path = getattr(source, key)
        found = field_at(schema, path) if path else None
        if found is not None and path and "category" not in found[0]:
            raise PolicyError(f"{where}.{key} = {'.'.join(path)!r}: the field has no category in "
                              f"{source.schema} (rule: the {key}'s id is personal data; tag it, e.g. "
                              f'"category": "{tag}")')
    dob_field = field_at(schema, source.date_of_birth) if source.date_of_birth else None
    if dob_field is not None and dob_field[0].get("category") != "identity.dob":
        raise PolicyError(f"{where}.date_of_birth = {'.'.join(source.date_of_birth or ())!r}: the field's category "
                          f"in {source.schema} is {dob_field[0].get('category')!r} (rule: a date of birth is "
                          'tagged "category": "identity.dob")')
    carried: dict[str, str] = {}
    for dotted, f in every_field(schema):
        category = f.get("category")
        if category is None:
            if f.get("scan") or f.get("format") in PERSONAL_FORMATS:
                hint = "scan: true" if f.get("scan") else f"format {f.get('format')!r}"
                raise PolicyError(f"{where}: field {dotted} of {source.schema} has {hint} but no category "
                                  "(rule: every personal field carries a data category)")
            continue
        if category not in CATEGORIES:
            raise PolicyError(f"{where}: field {dotted} of {source.schema} has category {category!r} "
                              "(rule: categories are the policy's data categories)")
        carried.setdefault(category, dotted)
    return carried


def _check_output(policy: Policy, source: Source, output: OutputPolicy, carried: dict[str, str]) -> None:
    """An output has a strategy for every category its source carries."""
    missing = [(category, dotted) for category, dotted in carried.items()
               if category not in output.categories and category not in policy.categories]
    if missing:
        category, dotted = missing[0]
        raise PolicyError(
            f'policy {policy.path}: outputs."{output.topic}": no strategy for category {category} that '
            f"source {source.topic} carries (field {dotted}) (rule: an output needs a strategy for "
            f'every category of its source; add categories."{category}" or '
            f'outputs."{output.topic}".categories."{category}")'
            + (f"; nor for {', '.join(c for c, _ in missing[1:])}" if len(missing) > 1 else ""))


def _check_retention_values(policy: Policy, catalog: SchemaCatalog, rule: RetentionRule) -> None:
    """An order_event rule's ``on`` lists values of its source's status enum."""
    source = policy.sources[rule.source]
    if rule.trigger != "order_event" or source.status is None or source.schema_name not in catalog.current:
        return
    found = field_at(catalog.current[source.schema_name].raw, source.status)
    symbols = found[1].get("symbols") if found is not None and isinstance(found[1], dict) else None
    wrong = [value for value in rule.on if symbols is not None and value not in symbols]
    if wrong:
        raise PolicyError(f'policy {policy.path}: retention."{rule.name}".on: {", ".join(wrong)} not a value of '
                          f"{source.topic}'s status {'.'.join(source.status)} (rule: `on` lists its symbols: "
                          f"{', '.join(symbols or ())})")


def fields_for_review(policy: Policy, catalog: SchemaCatalog) -> dict[str, int]:
    """Per source, how many of its schema's fields carry a ``review`` attribute (lethe discover)."""
    counts = {}
    for source in policy.sources.values():
        schema = catalog.current.get(source.schema_name)
        count = sum(1 for _, f in every_field(schema.raw) if "review" in f) if schema is not None else 0
        if count:
            counts[source.topic] = count
    return counts
