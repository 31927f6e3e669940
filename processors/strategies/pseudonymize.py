from __future__ import annotations

from typing import Any

from processors.policy import Options
from processors.pseudonym import pseudonym
from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform


class Pseudonymize(Strategy):
    """Replace the value by a keyed pseudonym, stable per subject (see processors.pseudonym).

    The subject's own id uses the domain ``subject`` so that the same pseudonym keys every
    anonymized topic; other identifiers are separated by field name.
    """

    name = "pseudonym"

    def unsupported(self, info: FieldInfo) -> str | None:
        return None if info.avro_type == "string" else f"needs a string field, {info.dotted} is {info.avro_type}"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        domain = b"subject" if info.format == "subject" else info.path[-1].encode()[:16]

        def pseudonymize(value: Any, ctx: RecordContext) -> Any:
            return pseudonym(ctx.subject_key, domain, value)
        return pseudonymize
