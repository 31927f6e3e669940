"""Redact personal data inside free text.

Two passes: the detectors of ``processors.detect`` (emails, phones, IPs, cards, IBANs, street
addresses), then the record's own personal values (its customer's name, email, street ...)
wherever they reappear in the text, case-insensitively. URLs are percent-decoded first, so that
``alice%40example.com`` in a query string is seen as the email it is.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

from processors.detect import redact as redact_spans
from processors.detect import scan
from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, Strategy, Transform


def redact_text(text: str, ctx: RecordContext) -> str:
    spans = scan(text)
    if spans:
        ctx.found.extend(span.category for span in spans)
        text = redact_spans(text, spans)
    if ctx.context:
        lowered = text.lower()
        for value, category in ctx.context:
            if value in lowered:
                pattern = rf"(?<!\w){re.escape(value)}(?!\w)"
                text, count = re.subn(pattern, f"[{category}]", text, flags=re.IGNORECASE)
                if count:
                    ctx.found.append(category)
                    lowered = text.lower()
    return text


class Redact(Strategy):
    name = "redact"

    def unsupported(self, info: FieldInfo) -> str | None:
        return None if info.avro_type == "string" else f"needs a string field, {info.dotted} is {info.avro_type}"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        if info.format == "url":
            def redact_url(value: Any, ctx: RecordContext) -> Any:
                return redact_text(unquote_plus(value) if "%" in value or "+" in value else value, ctx)
            return redact_url

        def redact(value: Any, ctx: RecordContext) -> Any:
            return redact_text(value, ctx)
        return redact
