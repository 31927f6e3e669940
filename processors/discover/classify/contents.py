"""What Lethe's free-text detectors (``processors.detect.scan``) find inside the sampled values.

A value that is one finding from end to end (an e-mail address, a phone number, an IBAN) gives
that finding's category; findings inside longer text make the field free text to scan.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from processors.detect import scan
from processors.discover.classify.base import Classifier, Evidence, Field

SCANNED = 100   # values scanned per field


class ContentsClassifier(Classifier):
    name: ClassVar[str] = "contents"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind != "string":
            return []
        values = [v for v in field.values[:SCANNED] if v.strip()]
        if not values:
            return []
        whole: Counter[str] = Counter()
        inside: Counter[str] = Counter()
        for value in values:
            spans = scan(value)
            stripped = len(value.strip())
            for span in spans:
                if span.end - span.start >= 0.9 * stripped:
                    whole[span.category] += 1
                else:
                    inside[span.category] += 1
        out: list[Evidence] = []
        if whole:
            category, hits = whole.most_common(1)[0]
            share = hits / len(values)
            if share >= 0.5:
                out.append(Evidence(category, 0.5 + 0.4 * share, f"detectors find {category} as {share:.0%} of values"))
        values_with_findings = sum(1 for value in values if scan(value)) if inside else 0
        if values_with_findings and field.share("url") < 0.5:
            share = values_with_findings / len(values)
            found = ", ".join(sorted(inside))
            weight = 0.55 + 0.3 * min(share * 4, 1.0) if field.share("text") >= 0.2 else 0.5
            out.append(Evidence("free_text", weight, f"detectors find {found} inside {share:.0%} of values",
                                scan=True))
        return out
