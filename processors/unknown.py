"""Fields an input's schema does not declare (docs/anonymization.md, "Unknown fields").

The validator drops them from every record (nothing untagged reaches an output), but an upstream
team that adds a field before the schema knows it may be sending personal data there, and
somebody must learn of it. :class:`UnknownFields` turns what the validator reports into a field
*path* per unknown field, a name and never a value: the record's path (``customer``, ``items[]``)
and the field's name, or ``<unnamed>`` where the name is not an identifier or itself looks like
personal data (an e-mail used as a key). At most ``limit`` distinct paths per topic are named;
the rest count as ``<other>``, so the metric's label set stays bounded. Each unknown field's
values (strings and integers, nested ones too, up to a bound) are scanned by the free-text
detectors; what they find is reported per path as data categories, never as values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from processors.detect import scan

UNNAMED = "<unnamed>"
OTHER = "<other>"
MAX_PATHS = 50          # distinct paths named per topic; more count as OTHER
MAX_STRINGS = 64        # string leaves scanned per unknown field
MAX_CHARS = 16_384      # characters scanned per unknown field
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


@dataclass
class Unknown:
    """What a batch's records held outside their schema."""

    counts: Counter[str] = field(default_factory=Counter)          # path -> records that had it
    personal: dict[str, set[str]] = field(default_factory=dict)    # path -> data categories found in it


class UnknownFields:
    """The bounded set of unknown-field paths of one topic, and the scan of their values."""

    def __init__(self, limit: int = MAX_PATHS) -> None:
        self.limit = limit
        self.paths: dict[tuple[str, str], str] = {}

    def path(self, at: str, name: str) -> str:
        found = self.paths.get((at, name))
        if found is None:
            if len(self.paths) >= self.limit:
                return OTHER
            shown = name if _NAME.match(name) and not scan(name) else UNNAMED
            found = self.paths[(at, name)] = f"{at}.{shown}" if at else shown
        return found

    def observe(self, fields: list[tuple[str, str, Any]], into: Unknown) -> None:
        """Count one record's unknown fields (``(record path, name, value)``) and scan their values."""
        seen: set[str] = set()
        for at, name, value in fields:
            path = self.path(at, name)
            if path not in seen:
                seen.add(path)
                into.counts[path] += 1
            categories = {span.category for text in _texts(value) for span in scan(text)}
            if categories:
                into.personal.setdefault(path, set()).update(categories)


def _texts(value: Any) -> Iterator[str]:
    """The strings (and integers, as text: a phone number sent as a number) in a JSON value, bounded."""
    stack, strings, chars = [value], 0, 0
    while stack and strings < MAX_STRINGS and chars < MAX_CHARS:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            text = item[: MAX_CHARS - chars]
        elif kind is int:
            text = str(item)
        elif kind is dict:
            stack.extend(item.values())
            continue
        elif kind is list:
            stack.extend(item)
            continue
        else:
            continue
        strings += 1
        chars += len(text)
        yield text
