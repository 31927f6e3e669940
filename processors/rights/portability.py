"""portability (policy section 5): "a structured copy of the data you provide to us". Only what the
subject provided: each family whose schema marks provided fields (processors/provided.py) gets an
export command carrying their data categories, and stores export the columns mapped to those (and
their key column); Lethe's own part is the subject's consent choices, nothing it decided itself
(holds, deadlines, requests, recipients). ``lethe request export ID --out DIR`` writes it as JSON and
as one CSV file per table (docs/rights.md, "Exports")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.retention import parse_time
from processors.rights.access import exporting, sealed_to
from processors.rights.base import Request, per_family
from processors.rights.effects import Effects, RequestType, RightsContext, State, SubjectView
from processors.rights.erase import request_of

# a consent choice as the subject made it (consent.v1), in the order of a CSV file's columns
CHOICE_FIELDS = ("occurred_at", "purpose", "granted", "source", "policy_version")


def accept(request: Request, view: SubjectView) -> Effects:
    rights = view.context.rights
    return exporting(request, view, [{"consent_choices": consent_choices(view.consent)}],
                     lambda due: portability_commands(request, view.now, due, rights.families, rights.provided))


def portability_commands(request: Request, now: float, due: float, families: tuple[str, ...],
                         provided: Mapping[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """An export command per family with provided fields, naming their categories (none for the others)."""
    return [command for family in families if provided.get(family)
            for command in per_family(request, "export", now, due, categories=provided[family], families=(family,))]


def consent_choices(consent: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every consent choice the subject's state remembers (its history and current decisions), oldest first."""
    if consent is None:
        return []
    seen: dict[str, Mapping[str, Any]] = {}
    for choice in [*consent.get("history", []), *consent.get("current", {}).values()]:
        seen.setdefault(choice["event_id"], choice)
    ordered = sorted(seen.values(), key=lambda choice: parse_time(choice["occurred_at"]))   # ties: as received
    return [{key: choice[key] for key in CHOICE_FIELDS} for choice in ordered]


def retry(state: State, context: RightsContext, now: float) -> list[dict[str, Any]]:
    rights = context.rights
    return sealed_to(state, portability_commands(request_of(state), now, parse_time(state["due_at"]),
                                                 rights.families, rights.provided))


TYPE = RequestType(accept, retry=retry, export=True)
