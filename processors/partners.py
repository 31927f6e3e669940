"""Partners: third parties the policy shares a projection of a source with (policy section 4).

    [partners.parcelco]
    source = "orders.v1"            # the declared source whose records it receives
    purpose = "order_fulfilment"    # why it receives them (audited, ledgered)
    basis = "contract"              # contract | legal_obligation | consent | legitimate_interest
    consent = "third_party_sharing" # basis = "consent" only (and then required): an opt-in consent purpose
    region = "EU"                   # destination region
    safeguard = "adequacy"          # adequacy | scc | bcr | none
    key = "order_id"                # record key: a dotted path of the source (raw value), or "pseudonym"
    store = "partner.parcelco"      # store agent that acks its erasure commands (default partner.<name>)
    [partners.parcelco.fields]      # minimum necessary: only these fields are published
    "customer.name" = "keep"

A partner compiles to an output (:func:`partner_output`) on its own topic ``partners.<name>.v1``:
the same gates as any output (restriction, objection, quarantine, and for basis = "consent" a
current grant of its consent purpose), and a projection: its records and its derived Avro schema
hold the declared fields and the ``lethe`` meta field, nothing else. Personal fields it does not
declare are dropped before projection, so free text it does declare is still searched for them.
:func:`parse_partners` checks each entry alone, :func:`check_partner` against its source's schema;
each error names the entry and the rule it breaks.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from processors.errors import PolicyError, Problems

if TYPE_CHECKING:
    from processors.policy import OutputPolicy, Policy
    from processors.schemas import SchemaCatalog
    from processors.sources import Source

BASES = ("contract", "legal_obligation", "consent", "legitimate_interest")
SAFEGUARDS = ("adequacy", "scc", "bcr", "none")
NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_REGION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
KEYS = ("source", "purpose", "basis", "consent", "region", "safeguard", "key", "store", "fields")
PSEUDONYM_KEY = "pseudonym"
SUBJECT_REFERENCE = {
    "name": "subject", "type": ["null", "string"], "default": None,
    "doc": ("The subject's reference at this partner (processors/pseudonym.partner_reference), null for a record "
            "of no subject: Lethe's erasure and rectification commands to this partner name the subject by it."),
}


@dataclass(frozen=True)
class Partner:
    name: str
    source: str
    purpose: str
    basis: str
    region: str
    safeguard: str
    fields: dict[str, str]            # dotted path -> strategy; nothing else is published
    consent: str | None = None        # basis = "consent": the purpose that needs a current grant
    key: tuple[str, ...] | None = None   # None: the subject's pseudonym
    store: str = ""

    @property
    def topic(self) -> str:
        return partner_topic(self.name)

    @property
    def commands_topic(self) -> str:
        return f"partners.{self.name}.commands.v1"

    @property
    def where(self) -> str:
        return f'partners."{self.name}"'


def partner_topic(name: str) -> str:
    return f"partners.{name}.v1"


def parse_partners(raw: Any, origin: str, sources: Mapping[str, Source], outputs: Mapping[str, Any],
                   strategies: Mapping[str, Any], problems: Problems | None = None) -> dict[str, Partner]:
    """The [partners] tables, each checked alone (names, values, its source declared). With
    ``problems``, an entry with a problem is recorded there and left out; without, the problems of
    every entry are raised together."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [partners] must hold one table per partner")
    collected = Problems() if problems is None else problems
    partners = {}
    for name, spec in raw.items():
        partner = collected.run(_parse_partner, name, spec, origin, sources, outputs, strategies)
        if partner is not None:
            partners[name] = partner
    if problems is None:
        collected.check()
    return partners


def _parse_partner(name: str, spec: Any, origin: str, sources: Mapping[str, Source], outputs: Mapping[str, Any],
                   strategies: Mapping[str, Any]) -> Partner:
    where = f'partners."{name}"'

    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: {where}{message}")

    if not NAME.match(name):
        raise fail(": not a partner name (rule: lower-case letters, digits, _ and -, up to 64; "
                   "it names the topic partners.<name>.v1)")
    if not isinstance(spec, dict):
        raise fail(" must be a table")
    extra = set(spec) - set(KEYS)
    if extra:
        raise fail(f": unknown key(s) {', '.join(sorted(extra))} (rule: a partner sets {', '.join(KEYS)})")
    source = spec.get("source")
    if not isinstance(source, str) or source not in sources:
        raise fail(f".source = {source!r}: not a declared source (rule: a partner receives records of a "
                   f"source in [sources]; declared: {', '.join(sources)})")
    purpose = spec.get("purpose")
    if not isinstance(purpose, str) or not purpose.strip():
        raise fail(".purpose: missing (rule: every partner states the purpose it receives data for)")
    basis = spec.get("basis")
    if basis not in BASES:
        raise fail(f".basis = {basis!r}: not a legal basis (rule: one of {', '.join(BASES)})")
    consent = spec.get("consent")
    if basis == "consent" and not isinstance(consent, str):
        raise fail(".consent: missing (rule: basis = \"consent\" names the consent purpose that needs a "
                   "current grant)")
    if basis != "consent" and consent is not None:
        raise fail(f".consent: set but basis = {basis!r} (rule: a consent purpose only with basis = \"consent\")")
    region = spec.get("region")
    if not isinstance(region, str) or not _REGION.match(region):
        raise fail(f".region = {region!r}: missing or malformed (rule: every partner names its destination "
                   "region, e.g. \"EU\" or \"US\")")
    safeguard = spec.get("safeguard")
    if safeguard not in SAFEGUARDS:
        raise fail(f".safeguard = {safeguard!r}: not a transfer safeguard (rule: one of {', '.join(SAFEGUARDS)})")
    key_raw = spec.get("key", PSEUDONYM_KEY)
    if not isinstance(key_raw, str) or not (key_raw == PSEUDONYM_KEY or _PATH.match(key_raw)):
        raise fail(f".key = {key_raw!r}: give \"pseudonym\" or the dotted path of a field of {source} "
                   "(rule: a partner's records are keyed as it needs)")
    store = spec.get("store", f"partner.{name}")
    if not isinstance(store, str) or not store.strip():
        raise fail(".store: give the name of the store agent that acks this partner's erasure commands")
    fields = spec.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise fail(".fields: missing or empty (rule: minimum necessary: a partner lists every field it "
                   "receives and its strategy; nothing else is published)")
    for path, strategy in fields.items():
        if not _PATH.match(path):
            raise fail(f'.fields."{path}": not a dotted field path (rule: fields through records, e.g. '
                       "customer.name)")
        if not isinstance(strategy, str) or strategy not in strategies:
            raise fail(f'.fields."{path}" = {strategy!r}: unknown strategy (rule: one of '
                       f"{', '.join(sorted(strategies))})")
    for path in fields:
        inner = [other for other in fields if other.startswith(path + ".")]
        if inner:
            raise fail(f'.fields."{path}": also lists {inner[0]} inside it (rule: list a record\'s fields '
                       "one by one, or the record, not both)")
    topic = partner_topic(name)
    if topic in outputs:
        raise fail(f": its topic {topic} is also declared as an output (rule: a topic has one producer)")
    return Partner(name, source, purpose, basis, region, safeguard, dict(fields), consent,
                   None if key_raw == PSEUDONYM_KEY else tuple(key_raw.split(".")), store)


def check_consent_purposes(partners: Mapping[str, Partner], opt_in: tuple[str, ...], origin: str) -> None:
    for partner in partners.values():
        if partner.consent is not None and partner.consent not in opt_in:
            raise PolicyError(f"policy {origin}: {partner.where}.consent = {partner.consent!r}: not an opt-in "
                              f"consent purpose (rule: consent-based sharing needs a current grant; opt-in purposes: "
                              f"{', '.join(opt_in)})")


def partner_output(partner: Partner) -> OutputPolicy:
    """The output a partner compiles to: its topic, its declared fields, its consent gate and key."""
    from processors.policy import OutputPolicy

    return OutputPolicy(partner.topic, partner.source, partner.purpose, {}, dict(partner.fields),
                        (partner.consent,) if partner.consent else (), projection=tuple(partner.fields),
                        region=partner.region, key=partner.key, partner=partner.name)


def check_partner(policy: Policy, catalog: SchemaCatalog, partner: Partner) -> None:
    """A partner against its source's schema: declared fields and key exist and fit their strategy."""
    from processors.plan import personal_fields
    from processors.sources import field_at

    where = f"policy {policy.path}: {partner.where}"
    source = policy.sources[partner.source]
    schema = catalog.current[source.schema_name].raw
    personal = {info.dotted: info for info in personal_fields(schema)}
    for path, strategy in partner.fields.items():
        found = field_at(schema, tuple(path.split(".")))
        if found is None:
            raise PolicyError(f'{where}.fields."{path}": not a field of {source.schema} (rule: every declared '
                              "field exists, through records only)")
        inside = [p for p in personal if p.startswith(path + ".") or p.startswith(path + "[")
                  or p.startswith(path + "{")]
        if inside:
            raise PolicyError(f'{where}.fields."{path}": holds personal field {inside[0]} (rule: minimum '
                              "necessary: list the personal fields inside it one by one)")
        if path not in personal and strategy != "keep":
            raise PolicyError(f'{where}.fields."{path}" = {strategy!r}: the field carries no data category '
                              '(rule: a field without a category is passed as it is: "keep")')
    if partner.key is not None:
        dotted = ".".join(partner.key)
        found = field_at(schema, partner.key)
        if found is None or found[1] != "string":
            raise PolicyError(f"{where}.key = {dotted!r}: not a string field of {source.schema} (rule: the "
                              'key is a string field of the source, or "pseudonym")')


# --- projection of records and schemas ---------------------------------------------------------

Tree = dict[str, "Tree | None"]


def projection_tree(paths: tuple[str, ...]) -> Tree:
    tree: Tree = {}
    for path in paths:
        node = tree
        *parents, leaf = path.split(".")
        for segment in parents:
            child = node.setdefault(segment, {})
            assert child is not None
            node = child
        node[leaf] = None
    return tree


def project(record: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    """Only the declared fields of ``record`` (a missing or null parent stays null)."""
    out: dict[str, Any] = {}
    for name, sub in tree.items():
        value = record.get(name)
        out[name] = value if sub is None or value is None else project(value, sub)
    return out


def declares(paths: tuple[str, ...], path: str) -> bool:
    """Whether a partner declaring ``paths`` publishes the field tagged at ``path`` (a declared field,
    or free text inside one, whose findings are tagged at its own path)."""
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in paths)


def project_schema(derived: dict[str, Any], paths: tuple[str, ...], partner: str | None = None) -> dict[str, Any]:
    """A derived output schema cut down to the declared fields and the ``lethe`` meta field.

    A named type defined in a field that is cut away but referenced by a kept one is inlined at
    its first kept use; a record cut down differently at two paths gets a second name."""
    named: dict[str, Any] = {}
    _collect(derived, derived.get("namespace", ""), named)
    emitted: set[str] = set()
    tree = projection_tree(paths)
    tree["lethe"] = None
    out = _prune_record(derived, tree, named, emitted, derived.get("namespace", ""), "")
    if partner:   # the subject's reference at this partner, which its erasure commands name
        out["fields"] = [{**f, "type": {**f["type"], "fields": [*f["type"]["fields"], SUBJECT_REFERENCE]}}
                         if f["name"] == "lethe" else f for f in out["fields"]]
    out["doc"] = (f"Records of {derived['name']} shared with partner {partner}: only the fields its policy entry "
                  "declares (minimum necessary), each transformed by its declared strategy, and field lethe."
                  if partner else out.get("doc", ""))
    return out


def _full(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _collect(schema: Any, namespace: str, named: dict[str, Any]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, namespace, named)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        ns = schema.get("namespace", namespace)
        if kind in ("record", "enum", "fixed"):
            named[_full(schema["name"], ns)] = (schema, ns)
            named.setdefault(schema["name"], (schema, ns))
        if kind == "record":
            for f in schema["fields"]:
                _collect(f["type"], ns, named)
        elif kind == "array":
            _collect(schema["items"], ns, named)
        elif kind == "map":
            _collect(schema["values"], ns, named)
        elif isinstance(kind, (dict, list)):
            _collect(kind, ns, named)


def _prune_record(record: dict[str, Any], tree: Tree, named: dict[str, Any], emitted: set[str], namespace: str,
                  at: str) -> dict[str, Any]:
    ns = record.get("namespace", namespace)
    out = {k: v for k, v in record.items() if k != "fields"}
    full = _full(record["name"], ns)
    if full in emitted:   # the same record type cut down at another path: a name of its own
        out["name"] = f"{record['name']}_{at.replace('.', '_')}"
    emitted.add(_full(out["name"], ns))
    emitted.add(f"cut:{_full(out['name'], ns)}")   # not the whole type: a whole use elsewhere needs its own
    fields = []
    for f in record["fields"]:
        if f["name"] not in tree:
            continue
        sub = tree[f["name"]]
        path = f"{at}.{f['name']}" if at else f["name"]
        if sub is None:
            fields.append({**f, "type": _inline(copy.deepcopy(f["type"]), named, emitted, ns)})
        else:
            fields.append({**f, "type": _prune_type(f["type"], sub, named, emitted, ns, path)})
    out["fields"] = fields
    return out


def _prune_type(avro_type: Any, tree: Tree, named: dict[str, Any], emitted: set[str], namespace: str,
                at: str) -> Any:
    if isinstance(avro_type, str) and avro_type in named:
        definition, ns = named[avro_type]
        return _prune_type(definition, tree, named, emitted, ns, at) if definition.get("type") == "record" \
            else avro_type
    if isinstance(avro_type, list):
        return [_prune_type(branch, tree, named, emitted, namespace, at) for branch in avro_type]
    if isinstance(avro_type, dict) and avro_type.get("type") == "record":
        pruned = _prune_record(avro_type, tree, named, emitted, namespace, at)
        if "namespace" not in pruned and namespace:
            pruned["namespace"] = namespace
        return pruned
    return avro_type


def _inline(avro_type: Any, named: dict[str, Any], emitted: set[str], namespace: str) -> Any:
    """``avro_type`` with every named type it references defined at its first use in the projection."""
    if isinstance(avro_type, str):
        if avro_type not in named:
            return avro_type
        definition, ns = named[avro_type]
        inlined = copy.deepcopy(definition)
        inlined.setdefault("namespace", ns)
        return _inline(inlined, named, emitted, ns)
    if isinstance(avro_type, list):
        return [_inline(branch, named, emitted, namespace) for branch in avro_type]
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        ns = avro_type.get("namespace", namespace)
        if kind in ("record", "enum", "fixed"):
            full = _full(avro_type["name"], ns)
            if full in emitted and f"cut:{full}" not in emitted:
                return full   # defined already: referenced by name
            if full in emitted:   # only a cut-down copy is defined so far: the whole type under its own name
                avro_type["name"] = f"{avro_type['name']}_whole"
                full = _full(avro_type["name"], ns)
                if full in emitted:
                    return full
            emitted.add(full)
        if kind == "record":
            avro_type["fields"] = [{**f, "type": _inline(f["type"], named, emitted, ns)} for f in avro_type["fields"]]
        elif kind == "array":
            avro_type["items"] = _inline(avro_type["items"], named, emitted, ns)
        elif kind == "map":
            avro_type["values"] = _inline(avro_type["values"], named, emitted, ns)
        elif isinstance(kind, (dict, list)):
            avro_type["type"] = _inline(kind, named, emitted, ns)
    return avro_type


def partners_table(policy: Policy, catalog: SchemaCatalog) -> str:
    """docs/sharing.md's "What each partner gets": one Markdown row per partner of ``policy``."""
    from processors.plan import personal_fields

    rows = ["| partner | purpose | basis | destination | key | fields (strategy) | data categories |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for partner in policy.partners.values():
        schema = catalog.current[policy.sources[partner.source].schema_name].raw
        categories = {info.dotted: info.category for info in personal_fields(schema)}
        basis = f"consent ({partner.consent})" if partner.consent else partner.basis
        key = ".".join(partner.key) if partner.key else "subject's pseudonym"
        fields = ", ".join(f"`{path}`" + ("" if strategy == "keep" else f" ({strategy})")
                           for path, strategy in partner.fields.items())
        found = ", ".join(dict.fromkeys(categories[p] for p in partner.fields if p in categories))
        rows.append(f"| `{partner.name}` from `{partner.source}` | {partner.purpose} | {basis} | "
                    f"{partner.region}, {partner.safeguard} | `{key}` | {fields} | {found} |")
    return "\n".join(rows)
