"""Time utilities: RFC 3339 in, epoch seconds out, and back (every record Lethe writes uses ``iso``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def parse_event_time(text: Any) -> float:
    """Epoch seconds of an event's RFC 3339 time with an offset, years 1970-2999; ValueError if not."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text) or not "1970" <= text[:4] <= "2999":
        raise ValueError("not an RFC 3339 time with an offset")
    return parse_time(text)


def parse_time(text: Any) -> float:
    """Epoch seconds of an RFC 3339 time; ValueError if it is not one (naive times are UTC)."""
    if not isinstance(text, str):
        raise ValueError("not a time")
    if text[-1:] == "z":   # RFC 3339 allows a lower-case z; datetime does not
        text = text[:-1] + "Z"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def parse_date(text: Any) -> date | None:
    """A calendar date written ``YYYY-MM-DD`` (a date of birth), or None if the value is not one."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:   # 2023-02-30
        return None
