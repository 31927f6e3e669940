"""What someone browsed: URLs, referrers, pages and searches; scanned, since URLs carry e-mails and ids."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("url", "uri", "href", "link", "referrer", "referer", "page", "pageurl", "path", "pathname", "landing",
         "landingpage", "route", "screen", "search", "query", "q", "term", "keyword", "keywords", "suchbegriff",
         "recherche", "busqueda", "ricerca", "location", "pageview", "website", "webpage", "site", "seite",
         "pagina", "destination", "redirect", "utm", "campaign", "entry", "exit")
NOT_BROWSING = ("id", "count", "title", "type", "kind", "status", "ms", "duration", "time", "at", "size", "number",
                "views", "template", "version", "lat", "lon", "image", "avatar", "photo", "picture", "logo")
_ONLY_WITH_URLS = ("location", "site", "destination", "entry", "exit", "campaign", "screen")


class BrowsingClassifier(Classifier):
    name: ClassVar[str] = "browsing"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null"):
            return []
        urls, paths = field.share("url"), field.share("path")
        fmt = "url" if urls >= 0.95 else None
        token = field.named(*NAMES)
        out: list[Evidence] = []
        if token and not field.named(*NOT_BROWSING) and not field.in_geo_context:
            if token in _ONLY_WITH_URLS and urls + paths < 0.5:
                return out
            out.append(Evidence("behavior.browsing", 0.85, f"name has '{token}'", format=fmt, scan=True))
        elif urls >= 0.6 and not field.named("image", "avatar", "photo", "picture", "logo", "icon", "thumbnail"):
            out.append(Evidence("behavior.browsing", 0.5 + 0.3 * urls, f"{urls:.0%} of values are URLs",
                                format=fmt, scan=True))
        return out
