"""Minors by age (policy section 8: "if mistaken collection is discovered, the relevant data will be
deleted promptly").

    [minors]
    age = 18        # the age of majority, in whole years (default 18)

A source that carries a date of birth declares its field (``date_of_birth`` in its
``[sources."<topic>"]`` stanza, processors/sources.py; a ``YYYY-MM-DD`` string tagged
``identity.dob``). A record whose date of birth makes its subject younger than ``age`` on the day
of the record's event time (in the event time's own offset) reaches no output: the pipeline gates
the subject's records of the batch as ``quarantine`` and reports the subject, and the worker files
one ``minor_flag`` request for it (:func:`processors.records.rule_request`, id
:func:`minor_request_id`), which quarantines and erases as an explicit one does.

Birthdays: a subject is ``age`` from the start of their birthday; one born on 29 February turns a
year older on 1 March in a year without that day. A date of birth that is not a ``YYYY-MM-DD``
date, or lies after the event, is not evidence of anything: the record goes on as any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from processors.errors import PolicyError
from processors.ids import derived_id
from processors.records import Stamp, audit_record, rule_request
from processors.time import parse_date

RULE = "minors.age"
QUARANTINE = "quarantine"
QUARANTINED: Mapping[str, str] = {"*": QUARANTINE}   # a subject's gates once found under age: every output


@dataclass(frozen=True)
class Minors:
    age: int = 18


def parse_minors(raw: Any, origin: str) -> Minors:
    if raw is None:
        return Minors()
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {origin}: [minors] must be a table (e.g. age = 18)")
    extra = set(raw) - {"age"}
    if extra:
        raise PolicyError(f"policy {origin}: [minors]: unknown key(s) {', '.join(sorted(extra))}")
    age = raw.get("age", 18)
    if type(age) is not int or not 1 <= age <= 30:
        raise PolicyError(f"policy {origin}: minors.age = {age!r}: use a whole number of years from 1 to 30")
    return Minors(age)


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def under_age(date_of_birth: Any, event_time: Any, age: int) -> bool:
    """Whether a subject born on ``date_of_birth`` is younger than ``age`` on the day of ``event_time``
    (RFC 3339); False when either is not a date, or the birth would come after the event."""
    born = parse_date(date_of_birth)
    # an RFC 3339 time starts with its date in its own offset: the day of the event where it happened
    day = parse_date(event_time[:10]) if born is not None and isinstance(event_time, str) else None
    return day is not None and born is not None and born <= day and age_on(born, day) < age


def minor_request_id(subject: str) -> str:
    """The id of the minor_flag request the rule files for ``subject``: the same every time, so that a
    replay, a restart or another record of the subject files no second request."""
    return f"{RULE}-{derived_id(f'{RULE}:{subject}')}"


class MinorsRule:
    """The rule for one source: which subjects of a batch its records show to be under age."""

    def __init__(self, date_of_birth: tuple[str, ...], event_time: tuple[str, ...], subject: tuple[str, ...],
                 age: int) -> None:
        from processors.plan import get_path  # plan imports the policy, which imports this module

        self.date_of_birth, self.event_time, self.subject, self.age = date_of_birth, event_time, subject, age
        self.get_path = get_path

    def find(self, records: Sequence[tuple[int, dict[str, Any]]],
             gates: Mapping[str, Mapping[str, str]]) -> list[tuple[int, str]]:
        """(batch index, subject) of the first record of each subject found under age, leaving out
        subjects already quarantined from every output (a minor_flag is in force or filed)."""
        found: dict[str, int] = {}
        get_path = self.get_path
        for index, record in records:
            born = get_path(record, self.date_of_birth)
            if born is None:
                continue
            subject = get_path(record, self.subject)
            if subject is None or subject in found or (gates.get(subject) or {}).get("*") == QUARANTINE:
                continue
            if under_age(born, get_path(record, self.event_time), self.age):
                found[subject] = index
        return [(index, subject) for subject, index in found.items()]


def minor_found(subject: str, source_topic: str, age: int, now: Stamp) -> tuple[dict[str, Any], dict[str, Any]]:
    """The minor_flag request the rule files for ``subject`` and its audit record (action ``minor_found``,
    rule ``minors.age``): the rule and the age limit, never the date of birth."""
    request_id = minor_request_id(subject)
    details = {"source_topic": source_topic, "age": str(age)}
    request = rule_request(request_id, "minor_flag", subject, now, RULE, details)
    audit = audit_record("minor_found", subject, now, request_id, rule=RULE, request_id=request_id,
                         details={**details, "request_type": "minor_flag", "outputs": "all"})
    return request, audit
