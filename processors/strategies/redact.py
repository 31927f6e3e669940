"""Redact personal data inside free text.

Two passes: the detectors of ``processors.detect`` (emails, phones, IPs, cards, IBANs, street
addresses, session tokens, also inside percent-escapes and base64 query values), then the
record's own personal values (its customer's name, email, street ...)
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
from urllib.parse import unquote

from processors.detect import redact as redact_spans
from processors.detect import scan
from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, TextStrategy, Transform

CACHE_LIMIT = 65_536


def redact_detected(text: str, ctx: RecordContext) -> str:
    """Replace what the detectors find; the categories found go to ``ctx.found``."""
    spans = scan(text)
    if not spans:
        return text
    ctx.found.extend(span.category for span in spans)
    return redact_spans(text, spans)


def redact_context(text: str, ctx: RecordContext) -> str:
    """Replace the record's own personal values wherever they appear as whole words."""
    if not ctx.context:
        return text
    lowered = text.lower()
    for value, category in ctx.context:
        if value in lowered:
            pattern = rf"(?<!\w){re.escape(value)}(?!\w)"
            text, count = re.subn(pattern, f"[{category}]", text, flags=re.IGNORECASE)
            if count:
                ctx.found.append(category)
                lowered = text.lower()
    return text


def redact_text(text: str, ctx: RecordContext) -> str:
    return redact_context(redact_detected(text, ctx), ctx)


_REDACTED = re.compile(r"\[[a-z_.]+\]")
_ID_SEGMENT = re.compile(r"^(?=(?:[^0-9]*[0-9]){3})[\w.~-]{5,}$|^[0-9a-fA-F-]{8,}$")


# scheme, authority (user info dropped), path, query; the fragment is dropped. Every part is
# optional, so it matches any string; hand-rolled because urllib's split and unsplit cost more
# than the detectors on the per-event path.
_URL = re.compile(r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):)?(?://(?:[^@/?#]*@)?(?P<host>[^/?#]*))?"
                  r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?")


def _join(scheme: str | None, host: str | None, path: str, query: str | None) -> str:
    return ((f"{scheme}:" if scheme else "") + (f"//{host}" if host is not None else "") + path
            + (f"?{query}" if query is not None else ""))


def rewrite_url(url: str, ctx: RecordContext, keep_params: frozenset[str]) -> str:
    """A URL's structural redaction plus detector findings (the record's own values come after).

    One detector pass over the percent-decoded URL (a literal "+" is kept: in a query it is more
    often a phone prefix than an encoded space), then the structure: identifier-like path
    segments become ``[id]``, query values not in ``keep_params`` become ``[query]`` unless a
    detector already named them, user info and fragment are dropped.
    """
    parts = _URL.match(url)
    assert parts is not None   # every group is optional
    decoded = redact_detected(unquote(_join(*parts.group("scheme", "host", "path", "query"))), ctx)
    parts = _URL.match(decoded)
    assert parts is not None
    scheme, host, path, query = parts.group("scheme", "host", "path", "query")
    path = "/".join("[id]" if _ID_SEGMENT.match(segment) else segment for segment in path.split("/"))
    if query:
        params = []
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if value and name not in keep_params and not _REDACTED.fullmatch(value):
                value = "[query]"
            params.append(f"{name}={value}")
        query = "&".join(params)
    return _join(scheme, host, path, query)


def redact_url(url: str, ctx: RecordContext, keep_params: frozenset[str]) -> str:
    return redact_context(rewrite_url(url, ctx, keep_params), ctx)


class CleanCache:
    """Results for values in which the detectors found nothing, so they hold no personal data
    that Lethe can see. Repeated product URLs and stock phrases skip the detectors; the
    record's own values are still searched for on every record. Bounded; cleared when full."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, value: str) -> str | None:
        return self.entries.get(value)

    def put(self, value: str, result: str) -> None:
        if len(self.entries) >= CACHE_LIMIT:
            self.entries.clear()
        self.entries[value] = result


class Redact(TextStrategy):
    name = "redact"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        cache = CleanCache()
        if info.format == "url":
            keep = frozenset(options.url_keep_params)

            def url(value: Any, ctx: RecordContext) -> Any:
                rewritten = cache.get(value)
                if rewritten is None:
                    before = len(ctx.found)
                    rewritten = rewrite_url(value, ctx, keep)
                    if len(ctx.found) == before:
                        cache.put(value, rewritten)
                return redact_context(rewritten, ctx)
            return url

        def redact(value: Any, ctx: RecordContext) -> Any:
            if cache.get(value) is None:
                detected = redact_detected(value, ctx)
                if detected is value:
                    cache.put(value, value)
                value = detected
            return redact_context(value, ctx)
        return redact
