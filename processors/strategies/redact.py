"""Redact personal data inside free text.

Two passes: the detectors of ``processors.detect`` (emails, phones, IPs, cards, IBANs, street
addresses), then the record's own personal values (its customer's name, email, street ...)
wherever they reappear in the text, case-insensitively.

URLs (schema format ``url``) get more: they are percent-decoded first, so that
``alice%40example.com`` is seen as the email it is; path segments that look like identifiers
(``/u/c-8841af/`` or ``/orders/123456``) become ``[id]``, because a URL can name a customer whom
nothing else in the record names; and query values survive only for the parameters listed in
``options.url_keep_params`` (campaign and paging parameters by default), others become
``[query]``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit, urlunsplit

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


_ID_SEGMENT = re.compile(r"^(?=(?:[^0-9]*[0-9]){3})[\w.~-]{5,}$|^[0-9a-fA-F-]{8,}$")


def redact_url(url: str, ctx: RecordContext, keep_params: frozenset[str]) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return redact_text(unquote_plus(url), ctx)
    path = "/".join("[id]" if _ID_SEGMENT.match(segment) else segment
                    for segment in unquote_plus(parts.path).split("/"))
    params = []
    # a literal "+" in a query is more often a phone prefix than an encoded space: keep it
    for name, value in parse_qsl(parts.query.replace("+", "%2B"), keep_blank_values=True):
        redacted = redact_text(value, ctx)
        if redacted == value and name not in keep_params and value:
            redacted = "[query]"
        params.append(f"{redact_text(name, ctx)}={redacted}")
    # userinfo and fragment are dropped: neither is needed to analyse traffic
    return urlunsplit((parts.scheme, host, redact_text(path, ctx), "&".join(params), ""))


class Redact(Strategy):
    name = "redact"

    def unsupported(self, info: FieldInfo) -> str | None:
        if info.avro_type != "string":
            return f"needs a string field, {info.dotted} is {info.avro_type}"
        if not info.scan:
            # redaction removes what is found inside text; a name or an email field would pass whole
            return (f"applies to free-text fields (schema attribute scan), {info.dotted} is not one; "
                    "use drop, mask, pseudonym or generalize")
        return None

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        if info.format == "url":
            keep = frozenset(options.url_keep_params)

            def url(value: Any, ctx: RecordContext) -> Any:
                return redact_url(value, ctx, keep)
            return url

        def redact(value: Any, ctx: RecordContext) -> Any:
            return redact_text(value, ctx)
        return redact
