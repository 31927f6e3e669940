"""The policy text ``lethe discover`` proposes: the ``[sources."<topic>"]`` stanza (per
/work's SOURCES contract) and a suggested anonymized output whose per-field strategies make every
tagged field work with the policy's defaults (a category whose default strategy cannot apply to the
field's type, such as a pseudonym on a number or an array, is dropped there instead)."""

from __future__ import annotations

import json
import re
from typing import Any

from processors.discover.propose import Discovery
from processors.discover.tokens import has, tokens
from processors.plan import personal_fields
from processors.strategies import STRATEGIES

_VERSION = re.compile(r"^(.*?)(?:[._-](v\d+))?$")
MASKED = ("tracking", "trackingnumber", "iban", "card", "pan", "accountnumber", "kontonummer", "cardnumber",
          "waybill", "sendungsnummer", "parcel", "tarjeta", "carte", "karte", "carta", "konto", "cuenta", "conto",
          "suivi", "seguimiento", "tracciamento", "sendung")

_DEVICE_MODEL = ("model", "modell", "modelo", "modele", "modello", "devicemodel", "hardware")


def output_topic(topic: str) -> str:
    match = _VERSION.match(topic)
    assert match is not None
    base, version = match.group(1), match.group(2) or "v1"
    return f"{base}.anonymized.{version}"


def output_fields(schema: dict[str, Any], defaults: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Per-field strategies (path -> (strategy, why)) for the fields the defaults do not fit."""
    chosen: dict[str, tuple[str, str]] = {}
    for info in personal_fields(schema):
        default = defaults.get(info.category, "drop")
        name_tokens = tokens(info.path[-1])
        if info.category == "transaction.order" and info.format == "identifier" and info.avro_type == "string":
            chosen[info.dotted] = ("pseudonym", "joinable across the record's events, not reversible")
        elif info.category in ("transaction.logistics", "transaction.payment") and has(name_tokens, MASKED) \
                and info.avro_type == "string":
            chosen[info.dotted] = ("mask", "a number that identifies a parcel, card or account")
        elif info.format == "postcode" and not STRATEGIES["generalize"].unsupported(info):
            chosen[info.dotted] = ("generalize", "postcode area only (as orders.v1)")
        elif info.format == "date" and info.category == "identity.dob" \
                and not STRATEGIES["generalize"].unsupported(info):
            chosen[info.dotted] = ("generalize", "year of birth only (as orders.v1)")
        elif info.format == "user_agent" and default == "keep" and not STRATEGIES["generalize"].unsupported(info):
            chosen[info.dotted] = ("generalize", "browser and OS family only (as logs.v1)")
        elif info.format == "timestamp" and info.category.startswith("behavior.") \
                and not STRATEGIES["generalize"].unsupported(info):
            chosen[info.dotted] = ("generalize", "access time to the hour (as logs.v1)")
        elif info.category == "device.info" and default == "keep" and has(name_tokens, _DEVICE_MODEL):
            chosen[info.dotted] = ("drop", "a rare device model singles people out (as logs.v1)")
        elif STRATEGIES[default].unsupported(info):
            chosen[info.dotted] = ("drop", f"{default} cannot apply to this {info.avro_type} field")
    return chosen


def source_stanza(result: Discovery, schema_file: str) -> str:
    lines = [f"[sources.{_quote(result.topic)}]", f"schema = {_quote(schema_file)}"]
    for key in ("kind", "subject", "record_id", "event_time", "status", "date_of_birth"):
        if key in result.source:
            lines.append(f"{key} = {_quote(result.source[key])}")
    return "\n".join(lines) + "\n"


def policy_text(result: Discovery, schema: dict[str, Any], schema_file: str, defaults: dict[str, str],
                region: str = "EU") -> str:
    """The whole proposal: comments, the source stanza, the suggested output and its fields;
    ``region`` is the output's destination region (the policy's [transfers] default_origin)."""
    out = [f"# Proposed by `lethe discover` from {result.records} sampled records of {result.topic}.",
           "# Review it (and the schema), then paste it into your policy file (LETHE_POLICY).",
           f"# {len(result.review)} field(s) await review: search the schema for \"review\"."]
    out += [f"# note: {note}" for note in result.notes]
    out += ["", source_stanza(result, schema_file)]
    topic = output_topic(result.topic)
    browsing = any(report.decision.category in ("behavior.browsing", "behavior.click") for report in result.fields)
    # as for logs.v1: a subject who refused analytics cookies is held back from browsing data too
    consent = '["analytics", "cookies_analytics"]' if browsing else '["analytics"]'
    out += [f"[outputs.{_quote(topic)}]", f"source = {_quote(result.topic)}", 'purpose = "analytics"',
            f"consent = {consent}", f"region = {_quote(region)}", ""]
    fields = output_fields(schema, defaults)
    if fields:
        out.append(f"[outputs.{_quote(topic)}.fields]")
        width = max(len(_quote(path)) for path in fields)
        for path, (strategy, why) in fields.items():
            out.append(f"{_quote(path):<{width}} = {_quote(strategy):<12} # {why}")
    return "\n".join(out).rstrip() + "\n"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
