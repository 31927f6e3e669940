"""What someone clicked: click targets, elements, selectors, buttons; scanned like free text."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("click", "clicktarget", "target", "element", "selector", "button", "cta", "tap", "clicked", "xpath",
         "anchor", "linktext", "klick", "clic")


class ClickClassifier(Classifier):
    name: ClassVar[str] = "click"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null"):
            return []
        token = field.named(*NAMES)
        if token and not field.named("id", "count", "type", "kind", "x", "y", "at", "time"):
            if token == "target" and not (field.named("click") or field.beside("click", "kind", "action")):
                return []
            return [Evidence("behavior.click", 0.85, f"name has '{token}'", scan=True)]
        return []
