"""What every anonymization strategy is: a name, an applicability check, and a compile step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from processors.policy import Options


@dataclass(frozen=True)
class FieldInfo:
    """A personal field of a schema, as the plan compiler sees it."""

    path: tuple[str, ...]
    avro_type: str          # the base type once "null" is taken out of a union
    category: str
    format: str | None = None
    scan: bool = False

    @property
    def dotted(self) -> str:
        """``customer.email``; inside an array ``lines[].note``, a map ``attributes{}.value``."""
        return dotted(self.path)


CONTAINERS = ("[]", "{}")   # path segments: every element of an array, every value of a map


def dotted(path: tuple[str, ...]) -> str:
    text = ""
    for segment in path:
        text += segment if segment in CONTAINERS or not text else "." + segment
    return text


class RecordContext:
    """Per-record state shared by the transforms of one record (one per record and output: a plain
    class with slots, which is cheaper to make than a dataclass with default factories)."""

    __slots__ = ("context", "found", "subject_key")

    def __init__(self, subject_key: bytes, context: list[tuple[str, str]] | None = None,
                 found: list[str] | None = None) -> None:
        self.subject_key = subject_key
        # personal values of this very record (lower-cased, with their category): free-text
        # redaction removes them wherever they reappear, e.g. the customer's name inside a note
        self.context: list[tuple[str, str]] = [] if context is None else context
        self.found: list[str] = [] if found is None else found


Transform = Callable[[Any, RecordContext], Any]


class Strategy:
    name: ClassVar[str]
    # reads free text for personal data: runs after every other field of the record (so it sees
    # their values) and reports the categories it found in ``ctx.found``
    scans_text: ClassVar[bool] = False

    def unsupported(self, info: FieldInfo) -> str | None:
        """Why this strategy cannot apply to ``info``, or None if it can."""
        return None

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        raise NotImplementedError


class TextStrategy(Strategy):
    """A strategy that reads free text (redact, derive): string fields marked ``scan`` only."""

    scans_text: ClassVar[bool] = True

    def unsupported(self, info: FieldInfo) -> str | None:
        if info.avro_type != "string":
            return f"needs a string field, {info.dotted} is {info.avro_type}"
        if not info.scan:
            # it works on what is found inside text; a name or an email field would pass whole
            return (f"applies to free-text fields (schema attribute scan), {info.dotted} is not one; "
                    "use drop, mask, pseudonym or generalize")
        return None
