"""``discover(records, topic)``: sampled records in, a proposed schema, source stanza and report out.

Every field path is classified (``classify/``, ``decide.py``). Lethe's plan tags the fields of
records inside arrays and maps one by one (``lines[].email``, ``attributes{}.value``), so an array
or map of records carries no category itself: its personal fields do, and its other fields pass.
An array or map of plain values, or a map whose keys are personal (e-mail addresses, IPs), has no
record field to tag inside: it gets a category of its own when anything in it is personal, and is
anonymized whole. The subject id, record id and event time of the source are picked from the
decisions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from processors.discover.classify import Field, evidence_for
from processors.discover.decide import Decision, decide
from processors.discover.infer import Node, sample_tree
from processors.discover.shapes import share
from processors.discover.tokens import has, tokens

# categories the shipped policy drops by default: the safe choice for a container of personal data
DROPPED = ("identity.name", "identity.dob", "contact.email", "contact.phone", "contact.address", "account.profile",
           "location.approximate")
EVENT_TIMES = ("occurred_at", "event_time", "timestamp", "time", "ts", "created_at", "date", "datetime",
               "sent_at", "received_at", "updated_at")
_TIME_WORDS = ("ts", "time", "timestamp", "at", "date", "datetime", "created", "updated", "occurred", "epoch", "when",
               "sent", "received", "ms", "millis")


@dataclass(frozen=True)
class FieldReport:
    path: str                 # as the report shows it: items[].name, attributes{}
    plan_path: str | None     # dotted path through records only, as a source stanza names fields; None below
                              # an array or a map
    avro_type: str
    decision: Decision


@dataclass
class Discovery:
    topic: str
    records: int
    root: Node
    decisions: dict[tuple[str, ...], Decision]
    fields: list[FieldReport] = field(default_factory=list)
    source: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def review(self) -> list[FieldReport]:
        return [report for report in self.fields if report.decision.review]


def discover(records: list[dict[str, Any]], topic: str, dropped: tuple[str, ...] = DROPPED) -> Discovery:
    root = sample_tree(records)
    decisions: dict[tuple[str, ...], Decision] = {}
    nodes = root.walk()[1:]
    for node in nodes:
        if node.main_kind not in ("object", "array"):
            view = Field(node)
            decisions[node.path] = decide(view, evidence_for(view))
    for node in reversed(nodes):
        if node.is_map or node.main_kind == "array":
            decisions[node.path] = _container(node, decisions, dropped)
    result = Discovery(topic, len(records), root, decisions)
    _event_time(result)
    _subject(result)
    _record_id(result)
    _date_of_birth(result)
    result.fields = [FieldReport(node.dotted, _plan_path(node), _short_type(node), decisions[node.path])
                     for node in nodes if node.path in decisions]
    return result


def _container(node: Node, decisions: dict[tuple[str, ...], Decision], dropped: tuple[str, ...]) -> Decision:
    own = [item for item in evidence_for(Field(node)) if item.category]
    best = max(own, key=lambda item: item.weight) if own else None
    if _of_records(node):
        tagged = _personal_inside(node, decisions)
        if tagged:
            return Decision(None, 0.9, (f"its records' fields hold {', '.join(sorted(tagged))}",
                                        "Lethe anonymizes them field by field in every element"))
        if best is not None and best.weight >= 0.8:
            return Decision(best.category, best.weight, (best.reason, "nothing personal found inside"))
        return Decision(None, 0.6, ("nothing personal inside",))
    if best is not None and best.weight >= 0.8:
        return Decision(best.category, best.weight, (best.reason,))
    inside = Counter[str]()
    confidence = 0.0
    depth = len(node.path)
    for path, decision in decisions.items():
        if len(path) > depth and path[:depth] == node.path and decision.category:
            inside[decision.category] += 1
            confidence = max(confidence, decision.confidence)
    keys = _personal_keys(node)
    if keys:
        inside[keys[0]] += 1
        confidence = max(confidence, 0.7)
    if not inside:
        return Decision(None, 0.6, ("nothing personal inside",))
    safest = [category for category in inside if category in dropped]
    category = max(safest or list(inside), key=lambda category: inside[category])
    held = ", ".join(sorted(inside))
    reasons = (f"holds {held}" + (f"; {keys[1]}" if keys else ""),
               "no record field inside to tag: anonymized as a whole")
    return Decision(category, round(confidence, 2), reasons)


def _of_records(node: Node) -> bool:
    """Whether every element of this array or map, through nested arrays and maps, is a record whose
    fields the plan can reach one by one (no plain values beside them, no personal map keys on the way)."""
    inner: Node | None = node
    while inner is not None and (inner.is_map or inner.main_kind == "array"):
        if _personal_keys(inner) is not None:
            return False
        kinds = set(inner.kinds) - {"null"}
        if kinds - ({"object"} if inner.is_map else {"array"}):
            return False
        inner = inner.values if inner.is_map else inner.items
    if inner is None or not inner.present:
        return False
    return set(inner.kinds) - {"null"} == {"object"} and not inner.is_map


def _personal_inside(node: Node, decisions: dict[tuple[str, ...], Decision]) -> set[str]:
    depth = len(node.path)
    return {decision.category for path, decision in decisions.items()
            if len(path) > depth and path[:depth] == node.path and decision.category}


def _personal_keys(node: Node) -> tuple[str, str] | None:
    if not node.is_map:
        return None
    for shape, category, label in (("email", "contact.email", "keys are e-mail addresses"),
                                   ("phone", "contact.phone", "keys are phone numbers"),
                                   ("ip", "network.ip", "keys are IP addresses"),
                                   ("person_name", "identity.name", "keys look like people's names")):
        if share(node.map_keys, shape) >= 0.3:
            return category, label
    return None


def _top_level(result: Discovery) -> list[Node]:
    return list(result.root.fields.values())


def _event_time(result: Discovery) -> None:
    times = [node for node in _top_level(result) if result.decisions.get(node.path, _NONE).format == "timestamp"]
    if not times:
        epochs = [node.name for node in _top_level(result) if _epoch(node)]
        hint = (f" ({epochs[0]} holds epoch numbers, and a source's event_time must be an RFC 3339 string:"
                " publish it as one)") if epochs else ""
        result.notes.append(f"no RFC 3339 time at the top level: set event_time by hand{hint}")
        return
    chosen = min(times, key=lambda node: EVENT_TIMES.index(node.name) if node.name in EVENT_TIMES else 99)
    result.source["event_time"] = chosen.name
    categories = {decision.category for decision in result.decisions.values()}
    browsing = [path for path, decision in result.decisions.items()
                if decision.category in ("behavior.browsing", "behavior.click") and len(path) <= 2
                and "[]" not in path and "{}" not in path and result.decisions[path].scan
                and not {"context", "meta", "metadata", "kontext", "contexte", "contexto"} & set(path)]
    personal_record = {"identity.name", "contact.address", "contact.phone", "transaction.order",
                       "transaction.payment", "transaction.logistics"} & categories
    if browsing and not personal_record:
        decision = result.decisions[chosen.path]
        result.decisions[chosen.path] = replace(
            decision, category="behavior.browsing",
            reasons=("the time of a page view or click is browsing behaviour", *decision.reasons))


def _epoch(node: Node) -> bool:
    """A number named like a time whose values are seconds or milliseconds since 1970 (2001 to 2103)."""
    if node.main_kind not in ("int", "float") or not has(tokens(node.name), _TIME_WORDS):
        return False
    low, high = node.number_min, node.number_max
    return any(start <= low and high < end for start, end in ((1e9, 4.2e9), (1e12, 4.2e12)))


def _subject(result: Discovery) -> None:
    candidates = [node for node in result.root.walk()[1:] if _plan_path(node)
                  and result.decisions.get(node.path, _NONE).category == "identifier.customer"]
    if not candidates:
        result.notes.append("no customer id found: the source has no subject; set subject by hand if it has one")
        return
    def rank(node: Node) -> tuple[int, int, float]:
        named = 0 if {"customer", "user", "kunde", "client", "cliente"} & set(tokens(node.name)) else 1
        return (len(node.path), named, -node.present)
    chosen = min(candidates, key=rank)
    if chosen.main_kind != "string":
        result.notes.append(f"the customer id {chosen.dotted} is a number: Lethe keys records by a string subject "
                            "id; publish it as a string, or set subject by hand")
        return
    result.source["subject"] = chosen.dotted
    decision = result.decisions[chosen.path]
    result.decisions[chosen.path] = replace(decision, format="subject",
                                            reasons=(*decision.reasons, "the data subject's id (the Kafka key)"))


def _record_id(result: Discovery) -> None:
    top = _top_level(result)
    orders = [node for node in top if result.decisions.get(node.path, _NONE).category == "transaction.order"
              and result.decisions[node.path].format == "identifier"]
    if orders:
        result.source["kind"] = "records"
        result.source["record_id"] = orders[0].name
        statuses = [node for node in top if node.main_kind == "string" and
                    {"status", "state", "type"} & set(tokens(node.name)) and len(node.distinct) <= 20
                    and result.decisions.get(node.path, _NONE).category is None]
        if statuses:
            result.source["status"] = statuses[0].name
        return
    result.source["kind"] = "events"
    ids = [node for node in top if node.main_kind == "string"
           and result.decisions.get(node.path, _NONE).category is None
           and (node.name in ("id", "uuid") or tokens(node.name)[-1:] in (("id",), ("uuid",)))
           and node.kinds["string"] and len(node.distinct) == node.kinds["string"]]
    if ids:
        result.source["record_id"] = ids[0].name
    else:
        result.notes.append("no unique event id at the top level: set record_id by hand")


def _date_of_birth(result: Discovery) -> None:
    """The subject's date of birth, for the minors rule: one YYYY-MM-DD field a source stanza can name."""
    if "subject" not in result.source:
        return
    births = [node for node in result.root.walk()[1:] if _plan_path(node) and node.main_kind in ("string", "null")
              and (decision := result.decisions.get(node.path, _NONE)).category == "identity.dob"
              and decision.format == "date"]
    if len(births) == 1:
        result.source["date_of_birth"] = births[0].dotted


def _plan_path(node: Node) -> str | None:
    """The dotted path a source stanza can name (subject, record id): through records, not into arrays or maps."""
    if "[]" in node.path or "{}" in node.path:
        return None
    return ".".join(node.path)


def _short_type(node: Node) -> str:
    kind = node.main_kind
    if node.is_map:
        inner = _short_type(node.values) if node.values else "string"
        text = f"map<{inner}>"
    elif kind == "array":
        inner = _short_type(node.items) if node.items and node.items.present else "string"
        text = f"array<{inner.lstrip('?')}>"
    else:
        text = _SHORT.get(kind, kind)
    return ("?" if node.optional else "") + text


_NONE = Decision(None, 0.0, ())
_SHORT = {"object": "record", "int": "int", "float": "double", "bool": "boolean", "null": "string"}
