"""International transfers (policy section 9): where a record comes from, where an output sends it,
and what the policy's transfer rules decide for that pair.

    [transfers]
    default_origin = "EU"              # residency of a record whose origin field is missing or null
    regions = { EU = [...EEA countries], US = ["US"], UK = ["GB"] }   # region -> ISO 3166-1 alpha-2 codes
    [transfers.origin]                 # per source: the field whose value (a country code) gives the origin
    "orders.v1" = "shipping_address.country"
    [[transfers.rules]]
    origin = "EU"
    destination = "US"
    decision = "allow"                 # allow | pseudonymize | block
    safeguard = "scc"                  # what an allowed transfer rests on: adequacy | scc | bcr

Every output (and partner) then names its destination ``region``. A record whose origin is its
output's region is not transferred (allowed); any other pair needs a rule, checked at start-up
(:func:`check_destinations`) so that no record ever meets a missing one. :func:`parse_transfers`
checks the table alone, :func:`check_origin_fields` the origin paths against the schemas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from processors.errors import PolicyError, Problems

if TYPE_CHECKING:
    from processors.schemas import SchemaCatalog
    from processors.sources import Source

DECISIONS = ("allow", "pseudonymize", "block")
SAFEGUARDS = ("adequacy", "scc", "bcr")   # "none" is what a rule without a safeguard rests on
# The EU member states and the other EEA countries (Iceland, Liechtenstein, Norway): the GDPR's area.
EEA = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
       "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO")
_REGION = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class TransferRule:
    origin: str
    destination: str
    decision: str
    safeguard: str = "none"


@dataclass(frozen=True)
class Transfers:
    default_origin: str = "EU"
    regions: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"EU": EEA})
    origin: dict[str, tuple[str, ...]] = field(default_factory=dict)   # source topic -> origin field path
    rules: dict[tuple[str, str], TransferRule] = field(default_factory=dict)

    @cached_property
    def country_regions(self) -> dict[str, str]:
        """Country code -> region, and each region's own name -> itself (a field may hold a region)."""
        out = {region: region for region in self.regions}
        for region, countries in self.regions.items():
            out.update(dict.fromkeys(countries, region))
        return out

    def region_of(self, value: Any) -> str:
        """The origin region of a country code (any case), a region name, or the default residency
        when the value is missing, null or a country no region lists."""
        if isinstance(value, str):
            found = self.country_regions.get(value.strip().upper())
            if found is not None:
                return found
        return self.default_origin

    def decide(self, origin: str, destination: str) -> tuple[str, str]:
        """(decision, safeguard) of a transfer; same region is no transfer: ("allow", "none")."""
        if origin == destination:
            return "allow", "none"
        rule = self.rules.get((origin, destination))
        if rule is None:
            raise PolicyError(f"transfers: no rule for origin {origin} to destination {destination} "
                              "(rule: every transfer an output can make needs a [[transfers.rules]] entry)")
        return rule.decision, rule.safeguard

    def origins_of(self, source: str) -> tuple[str, ...]:
        """The origin regions a source's records can have: all regions if it names an origin field."""
        return tuple(self.regions) if source in self.origin else (self.default_origin,)


def parse_transfers(raw: Any, origin: str, sources: Mapping[str, Source],
                    problems: Problems | None = None) -> Transfers | None:
    """The [transfers] table, checked alone; None when the policy has none (no output is a transfer).

    Each origin entry and rule is checked on its own: with ``problems``, one with a problem is
    recorded there and left out; without, the problems of every entry are raised together."""
    if raw is None:
        return None
    collected = Problems() if problems is None else problems

    def fail(message: str) -> PolicyError:
        return PolicyError(f"policy {origin}: transfers{message}")

    if not isinstance(raw, dict):
        raise fail(" must be a table")
    extra = set(raw) - {"default_origin", "regions", "origin", "rules"}
    if extra:
        raise fail(f": unknown key(s) {', '.join(sorted(extra))} (known: default_origin, regions, origin, rules)")
    regions: dict[str, tuple[str, ...]] = {"EU": EEA}
    raw_regions = raw.get("regions")
    if raw_regions is not None:
        if not isinstance(raw_regions, dict) or not raw_regions:
            raise fail(".regions must be a table of region = [country codes]")
        regions = {}
        owner: dict[str, str] = {}
        for name, countries in raw_regions.items():
            if not _REGION.match(name):
                raise fail(f".regions.{name}: a region is upper case letters, digits, _ (e.g. EU, US)")
            if not isinstance(countries, list) or not all(isinstance(c, str) and _COUNTRY.match(c) for c in countries):
                raise fail(f".regions.{name} must list ISO 3166-1 alpha-2 country codes, upper case (e.g. \"DE\")")
            for country in countries:
                if country in owner:
                    raise fail(f".regions: {country} is in both {owner[country]} and {name} "
                               "(rule: a country belongs to one region)")
                owner[country] = name
            regions[name] = tuple(countries)

    def region(where: str, value: Any) -> str:
        if not isinstance(value, str) or value not in regions:
            raise fail(f"{where} = {value!r}: not a region of transfers.regions ({', '.join(regions)})")
        return value

    default = region(".default_origin", raw.get("default_origin", "EU"))
    paths: dict[str, tuple[str, ...]] = {}
    raw_origin = raw.get("origin", {})
    if not isinstance(raw_origin, dict):
        raise fail(".origin must be a table of source topic = field path")

    def origin_path(source: str, path: Any) -> tuple[str, ...]:
        if source not in sources:
            raise fail(f'.origin."{source}": not a declared source ({", ".join(sources)})')
        if not isinstance(path, str) or not _PATH.match(path):
            raise fail(f'.origin."{source}" = {path!r}: must be a dotted field path (e.g. "shipping_address.country")')
        return tuple(path.split("."))

    for source, path in raw_origin.items():
        found = collected.run(origin_path, source, path)
        if found is not None:
            paths[source] = found
    rules: dict[tuple[str, str], TransferRule] = {}
    raw_rules = raw.get("rules", [])
    if not isinstance(raw_rules, list):
        raise fail(".rules must be an array of tables ([[transfers.rules]])")

    def rule(n: int, spec: Any) -> TransferRule:
        where = f".rules[{n}]"
        if not isinstance(spec, dict):
            raise fail(f"{where} must be a table")
        extra = set(spec) - {"origin", "destination", "decision", "safeguard"}
        if extra:
            raise fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        source, destination = region(f"{where}.origin", spec.get("origin")), region(
            f"{where}.destination", spec.get("destination"))
        if source == destination:
            raise fail(f"{where}: origin and destination are both {source} (rule: same region is no transfer)")
        if (source, destination) in rules:
            raise fail(f"{where}: a second rule for {source} to {destination}")
        decision, safeguard = spec.get("decision"), spec.get("safeguard", "none")
        if decision not in DECISIONS:
            raise fail(f"{where}.decision = {decision!r}: use one of {', '.join(DECISIONS)}")
        if safeguard not in (*SAFEGUARDS, "none"):
            raise fail(f"{where}.safeguard = {safeguard!r}: use one of {', '.join(SAFEGUARDS)}, none")
        if decision == "allow" and safeguard == "none":
            raise fail(f"{where}: allow from {source} to {destination} needs a safeguard ({', '.join(SAFEGUARDS)}) "
                       "(policy section 9: transfers only with appropriate safeguards; without one, "
                       "pseudonymize or block)")
        return TransferRule(source, destination, decision, safeguard)

    for n, spec in enumerate(raw_rules):
        found_rule = collected.run(rule, n, spec)
        if found_rule is not None:
            rules[(found_rule.origin, found_rule.destination)] = found_rule
    if problems is None:
        collected.check()
    return Transfers(default, regions, paths, rules)


def check_destinations(transfers: Transfers, destinations: Iterable[tuple[str, str, str | None]],
                       origin: str) -> None:
    """Every (what, source, region) an output or partner sends to has a rule for each origin its
    source's records can have; ``what`` names it in the error (e.g. ``outputs."orders.anonymized.v1"``)."""
    for what, source, region in destinations:
        if region is None:
            raise PolicyError(f"policy {origin}: {what} needs 'region' (its destination, one of "
                              f"{', '.join(transfers.regions)}) since the policy has [transfers]")
        if region not in transfers.regions:
            raise PolicyError(f"policy {origin}: {what}.region = {region!r}: not a region of transfers.regions "
                              f"({', '.join(transfers.regions)})")
        for source_region in transfers.origins_of(source):
            if source_region != region and (source_region, region) not in transfers.rules:
                raise PolicyError(
                    f"policy {origin}: {what} sends records of origin {source_region} to destination {region} "
                    f"and no transfer rule covers it (rule: add [[transfers.rules]] origin = \"{source_region}\", "
                    f'destination = "{region}", decision = allow (with a safeguard) | pseudonymize | block)')


def check_origin_fields(transfers: Transfers | None, sources: Mapping[str, Source], catalog: SchemaCatalog,
                        origin: str) -> None:
    """Every origin field is a string field of its source's schema (start-up, with the schemas)."""
    from processors.sources import field_at

    for topic, path in (transfers.origin if transfers else {}).items():
        schema = catalog.current.get(sources[topic].schema_name)
        if schema is None:   # check_sources reports the missing schema
            continue
        found = field_at(schema.raw, path)
        if found is None or found[1] != "string":
            raise PolicyError(f'policy {origin}: transfers.origin."{topic}" = {".".join(path)!r}: '
                              + ("not a field" if found is None else "not a string field")
                              + f" of {sources[topic].schema} (rule: the origin is a country code field)")


def check_partner_safeguards(transfers: Transfers, partners: Iterable[tuple[str, str, str, str]],
                             origin: str) -> None:
    """A partner's declared ``safeguard`` is the one every allowed transfer to it rests on: each
    (what, source, region, safeguard) must match the rule of every origin its source can have
    that is not its own region (same region: no transfer, any safeguard stands)."""
    for what, source, region, safeguard in partners:
        for source_region in transfers.origins_of(source):
            if source_region == region:
                continue
            decision, rule_safeguard = transfers.decide(source_region, region)
            if decision == "allow" and safeguard != rule_safeguard:
                raise PolicyError(f"policy {origin}: {what}.safeguard = {safeguard!r}, but the transfer from "
                                  f"{source_region} to {region} rests on {rule_safeguard!r} "
                                  "(rule: a partner's safeguard is the one its transfer rules name)")
