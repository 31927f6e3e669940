"""The policy file: which anonymization strategy applies to which data category, per output.

Format (TOML)::

    version = "2026-11-01"
    [options]              # parameters of the strategies (see Options)
    [categories]           # every data category -> default strategy
    "contact.email" = "drop"
    [outputs."orders.anonymized.v1"]
    source = "orders.v1"
    purpose = "analytics"
    [outputs."orders.anonymized.v1".categories]   # optional: category -> strategy for this output
    [outputs."orders.anonymized.v1".fields]       # optional: field path -> strategy for this output
    [sources."orders.v1"]  # the input topics (processors/sources.py); default: orders.v1 and logs.v1
    [partners.parcelco]    # third parties, each compiled to an output partners.<name>.v1 (processors/partners.py)
    [minors]               # age = 18: under age by a source's date_of_birth -> quarantine and erasure
                           # (processors/minors.py)
    [sharing]              # how the sharing ledger is written (processors/sharing.py)

Loading checks every name; :func:`processors.plan.compile_plan` then checks that every strategy
applies to the fields it is given. Problems raise :class:`PolicyError` naming the entry, all of a
stage at once (:class:`processors.errors.PolicyProblems`; ``lethe policy check`` lists them).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from processors.consent import PURPOSES, ConsentPolicy, parse_consent_policy
from processors.errors import PolicyError, Problems
from processors.minors import Minors, parse_minors
from processors.partners import Partner, check_consent_purposes, parse_partners, partner_output
from processors.retention.rules import RetentionRule, parse_retention
from processors.rights import Rights, parse_rights
from processors.sharing import Sharing, parse_sharing
from processors.sources import SHIPPED, Source, check_raw_retention, family_of, parse_sources
from processors.transfers import Transfers, check_destinations, check_partner_safeguards, parse_transfers

CATEGORIES = (
    "identity.name",
    "identity.dob",
    "contact.email",
    "contact.phone",
    "contact.address",
    "account.profile",
    "transaction.order",
    "transaction.payment",
    "transaction.logistics",
    "free_text",
    "device.info",
    "network.ip",
    "behavior.browsing",
    "behavior.click",
    "location.approximate",
    "location.precise",
    "identifier.customer",
    "identifier.session",
)
# Categories added after policy files were first written, with the strategy a policy that does not
# list one gets: the safest, so that an upgrade neither stops a worker nor publishes the new field.
ADDED_CATEGORIES = {"identity.dob": "drop"}   # orders.v1 version 2: customer.date_of_birth
TIMESTAMP_UNITS = ("second", "minute", "hour", "day")


@dataclass(frozen=True)
class Options:
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    coordinate_decimals: int = 1
    timestamp_unit: str = "hour"
    mask_keep_last: int = 4
    mask_char: str = "*"
    postcode_keep: int = 2
    context_min_length: int = 3
    # query parameters whose values survive URL redaction (others become "[query]")
    url_keep_params: tuple[str, ...] = ("utm_source", "utm_medium", "utm_campaign", "page", "sort", "step", "lang")

    def check(self) -> None:
        if not 0 <= self.ipv4_prefix <= 32:
            raise PolicyError("options.ipv4_prefix must be between 0 and 32")
        if not 0 <= self.ipv6_prefix <= 128:
            raise PolicyError("options.ipv6_prefix must be between 0 and 128")
        if not 0 <= self.coordinate_decimals <= 4:
            raise PolicyError("options.coordinate_decimals must be between 0 and 4 (4 is ~11 m)")
        if self.timestamp_unit not in TIMESTAMP_UNITS:
            raise PolicyError(f"options.timestamp_unit must be one of {', '.join(TIMESTAMP_UNITS)}")
        if self.mask_keep_last < 0 or len(self.mask_char) != 1:
            raise PolicyError("options.mask_keep_last must be >= 0 and options.mask_char one character")
        if self.postcode_keep < 0 or self.context_min_length < 1:
            raise PolicyError("options.postcode_keep must be >= 0 and options.context_min_length >= 1")


@dataclass(frozen=True)
class OutputPolicy:
    topic: str
    source: str
    purpose: str
    categories: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    consent: tuple[str, ...] = ()   # consent purposes that must allow a subject's records here
    region: str | None = None       # destination region ([transfers]); required when the policy has them
    # partners (processors/partners.py): only these fields are published (None: every field)
    projection: tuple[str, ...] | None = None
    key: tuple[str, ...] | None = None   # record key: this raw source field (None: the subject's pseudonym)
    partner: str | None = None

    def strategy_for(self, category: str, path: str, defaults: dict[str, str]) -> tuple[str, str]:
        """The strategy for one field and the policy entry that chose it."""
        if path in self.fields:
            if self.partner is not None:
                return self.fields[path], f'partners."{self.partner}".fields."{path}"'
            return self.fields[path], f'outputs."{self.topic}".fields."{path}"'
        if self.projection is not None:   # a partner: what it does not declare it does not get
            return "drop", f'partners."{self.partner}" (not declared: minimum necessary)'
        if category in self.categories:
            return self.categories[category], f'outputs."{self.topic}".categories."{category}"'
        if category in defaults:
            return defaults[category], f'categories."{category}"'
        raise PolicyError(f'outputs."{self.topic}": no strategy for category {category} (field {path} of '
                          f"{self.source}); add categories.\"{category}\" or "
                          f'outputs."{self.topic}".categories."{category}"')


@dataclass(frozen=True)
class Policy:
    version: str
    options: Options
    categories: dict[str, str]
    outputs: dict[str, OutputPolicy]
    path: str = "<memory>"
    retention: dict[str, RetentionRule] = field(default_factory=dict)
    rights: Rights = field(default_factory=Rights)
    consent: ConsentPolicy = field(default_factory=ConsentPolicy)
    sources: dict[str, Source] = field(default_factory=dict)
    transfers: Transfers | None = None   # None: no [transfers], no output is a transfer
    partners: dict[str, Partner] = field(default_factory=dict)
    sharing: Sharing = field(default_factory=Sharing)
    minors: Minors = field(default_factory=Minors)

    @property
    def families(self) -> tuple[str, ...]:
        """The families of stored data the sources feed (lifecycle commands name them), in order."""
        return tuple(dict.fromkeys(source.family for source in self.sources.values()))

    def outputs_for(self, source: str) -> list[OutputPolicy]:
        return [o for o in self.outputs.values() if o.source == source]


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy file {path} is not UTF-8 (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from None
    return parse_policy(data, str(path))


def parse_policy(data: dict[str, Any], origin: str = "<memory>") -> Policy:
    """The policy of a parsed TOML document, every entry checked.

    Each entry is checked on its own and every problem is raised at once (:class:`PolicyProblems`,
    one message per entry). An entry that names a source with problems of its own, and the checks
    across entries (each destination's transfer rules, partners' safeguards and consent purposes),
    are checked once the entries they rest on are fixed.
    """
    from processors.strategies import STRATEGIES

    problems = Problems()

    def report(message: str) -> None:
        problems.messages.append(f"policy {origin}: {message}")

    unknown = set(data) - {"version", "options", "categories", "outputs", "retention", "rights", "consent",
                          "sources", "transfers", "partners", "sharing", "minors"}
    if unknown:
        report(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        report("'version' must be a non-empty string")
    options = problems.run(_parse_options, data.get("options", {}), origin) or Options()
    categories = data.get("categories", {})
    if not isinstance(categories, dict):
        report("[categories] must be a table of category = strategy")
        categories = {}
    for category, strategy in categories.items():
        problems.run(_check_category, origin, "", category, strategy, STRATEGIES)
    categories = {**ADDED_CATEGORIES, **categories}
    # a category without a default is fine unless a source carries it (processors/sources.py checks)
    raw_sources = data.get("sources")
    sources = problems.run(parse_sources, raw_sources, origin, problems) or {}
    declared = set(SHIPPED if raw_sources is None else raw_sources if isinstance(raw_sources, dict) else ())
    broken = declared - set(sources)   # entries naming these are checked once they are fixed

    outputs: dict[str, OutputPolicy] = {}
    raw_outputs = data.get("outputs", {})
    if not isinstance(raw_outputs, dict) or not raw_outputs:
        report("[outputs] must declare at least one output topic")
        raw_outputs = {}
    for topic, spec in _not_naming(raw_outputs, broken).items():
        output = problems.run(_parse_output, topic, spec, origin, sources, STRATEGIES)
        if output is not None:
            outputs[topic] = output
    partners = problems.run(parse_partners, _not_naming(data.get("partners"), broken), origin, sources, outputs,
                            STRATEGIES, problems) or {}
    outputs.update({partner.topic: partner_output(partner) for partner in partners.values()})
    retention = problems.run(parse_retention, _not_naming(data.get("retention", {}), broken), CATEGORIES, origin,
                             sources, problems) or {}
    rights = problems.run(parse_rights, data.get("rights", {}), origin) or Rights()
    rights = replace(rights, families=tuple(dict.fromkeys(s.family for s in sources.values())))
    problems.messages += check_raw_retention(sources, rights, origin)
    consent_policy = problems.run(parse_consent_policy, data.get("consent", {}), CATEGORIES, origin)
    if consent_policy is not None:
        for partner in partners.values():
            problems.run(check_consent_purposes, {partner.name: partner}, consent_policy.opt_in, origin)
    raw_transfers = data.get("transfers")
    if broken and isinstance(raw_transfers, dict) and isinstance(raw_transfers.get("origin"), dict):
        raw_transfers = {**raw_transfers, "origin": {topic: path for topic, path in raw_transfers["origin"].items()
                                                     if topic not in broken}}
    before = len(problems.messages)
    transfers = problems.run(parse_transfers, raw_transfers, origin, sources, problems)
    if transfers is not None and len(problems.messages) == before:
        for o in outputs.values():
            problems.run(check_destinations, transfers, [(_stanza(o), o.source, o.region)], origin)
        for p in partners.values() if len(problems.messages) == before else ():
            problems.run(check_partner_safeguards, transfers, [(p.where, p.source, p.region, p.safeguard)], origin)
    sharing = problems.run(parse_sharing, data.get("sharing", {}), origin) or Sharing()
    minors = problems.run(parse_minors, data.get("minors"), origin) or Minors()
    if "minors" in data and not broken and not any(source.date_of_birth for source in sources.values()):
        report("[minors] applies to a source's date of birth, but no source declares one (add "
               'date_of_birth = "<dotted path>" to its [sources."<topic>"] stanza, or remove [minors])')
    problems.check()
    assert isinstance(version, str)
    return Policy(version, options, dict(categories), outputs, origin, retention, rights,
                  consent_policy or ConsentPolicy(), sources, transfers, partners, sharing, minors)


def _parse_options(raw_options: Any, origin: str) -> Options:
    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: {message}")

    known = {f.name: f.type for f in fields(Options)}
    if not isinstance(raw_options, dict) or set(raw_options) - set(known):
        raise fail(f"[options] may only set: {', '.join(known)}")
    for key, value in raw_options.items():
        if key == "url_keep_params":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise fail(f"options.{key} must be a list of strings")
            continue
        expected = str if known[key] == "str" else int
        if type(value) is not expected:
            raise fail(f"options.{key} must be {'a string' if expected is str else 'an integer'}")
    if "url_keep_params" in raw_options:
        raw_options = {**raw_options, "url_keep_params": tuple(raw_options["url_keep_params"])}
    options = Options(**raw_options)
    try:
        options.check()
    except PolicyError as exc:
        raise fail(str(exc)) from None
    return options


def _check_strategy(origin: str, where: str, name: Any, strategies: Mapping[str, Any]) -> None:
    if not isinstance(name, str) or name not in strategies:
        raise PolicyError(f"policy {origin}: {where} = {name!r}: unknown strategy; use one of "
                          f"{', '.join(sorted(strategies))}")


def _check_category(origin: str, where: str, category: str, strategy: Any, strategies: Mapping[str, Any]) -> None:
    """``<where>categories."<category>" = strategy``: a known category, a known strategy."""
    if category not in CATEGORIES:
        raise PolicyError(f'policy {origin}: {where}categories."{category}": unknown data category')
    _check_strategy(origin, f'{where}categories."{category}"', strategy, strategies)


def _parse_output(topic: str, spec: Any, origin: str, sources: Mapping[str, Source],
                  strategies: Mapping[str, Any]) -> OutputPolicy:
    where = f'outputs."{topic}"'

    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: {message}")

    if not isinstance(spec, dict):
        raise fail(f"{where} must be a table")
    extra = set(spec) - {"source", "purpose", "categories", "fields", "consent", "region"}
    if extra:
        raise fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    source, purpose = spec.get("source"), spec.get("purpose")
    if not isinstance(source, str) or not isinstance(purpose, str):
        raise fail(f"{where} needs 'source' (an input topic) and 'purpose' (a string)")
    if source not in sources:
        raise fail(f"{where}.source = {source!r}: not a declared source (declare it in "
                   f'[sources."{source}"]; declared: {", ".join(sources)})')
    over_categories = spec.get("categories", {})
    over_fields = spec.get("fields", {})
    if not isinstance(over_categories, dict) or not isinstance(over_fields, dict):
        raise fail(f"{where}.categories and {where}.fields must be tables of name = strategy")
    for category, strategy in over_categories.items():
        _check_category(origin, f"{where}.", category, strategy, strategies)
    for path, strategy in over_fields.items():
        _check_strategy(origin, f'{where}.fields."{path}"', strategy, strategies)
    consent = spec.get("consent", [])
    if not isinstance(consent, list) or any(p not in PURPOSES for p in consent):
        raise fail(f"{where}.consent must list consent purposes ({', '.join(PURPOSES)})")
    region = spec.get("region")
    if region is not None and not isinstance(region, str):
        raise fail(f"{where}.region must be a region name (e.g. \"EU\")")
    return OutputPolicy(topic, source, purpose, dict(over_categories), dict(over_fields), tuple(consent), region)


def _not_naming(raw: Any, broken: set[str]) -> Any:
    """A table of entries without those naming a source in ``broken`` (by ``source`` or ``family``)."""
    if not broken or not isinstance(raw, dict):
        return raw
    families = {family_of(topic) for topic in broken}
    return {name: spec for name, spec in raw.items()
            if not (isinstance(spec, dict) and (spec.get("source") in broken or spec.get("family") in families))}


def _stanza(output: OutputPolicy) -> str:
    """The policy entry an output comes from: partners compile to outputs too (issue 12)."""
    return f'partners."{output.partner}"' if output.partner else f'outputs."{output.topic}"'
