"""derive: free text replaced by what can be said about it without publishing it.

The output is one string, so it fits the field's schema as the text did:
``[free_text: de; 42 chars; contact.phone, identity.name]``: the language when a handful of
common words make it plain (en, de, fr, es, it, nl, pl; left out otherwise), the length in
characters, and the data categories found inside by the same passes as ``redact`` (the
detectors of ``processors.detect`` and the record's own personal values). Nothing of the text
itself is published, so what the detectors miss (a neighbour's name) cannot leak.
"""

from __future__ import annotations

import re
from typing import Any

from processors.policy import Options
from processors.strategies.base import FieldInfo, RecordContext, TextStrategy, Transform
from processors.strategies.redact import redact_text

# Short, frequent words that are words in one of these languages only (no "la", "con", "is", "du").
_COMMON = {
    "en": "the and please with for from this that next door are call leave ring",
    "de": "der die das und bitte mit bei für nicht ist klingeln abgeben nebenan",
    "fr": "les et avec pour chez merci est au laisser livrer appeler",
    "es": "el los las y para por gracias llamar dejar entregar está",
    "it": "il gli e della grazie chiamare lasciare consegnare è",
    "nl": "het een en bij voor graag niet afgeven bellen bezorgen op",
    "pl": "z na dla proszę nie jest zostawić dostawa zadzwoń",
}
STOPWORDS: dict[str, frozenset[str]] = {code: frozenset(words.split()) for code, words in _COMMON.items()}
# word -> the languages it is a common word of: one lookup per word of the text
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {
    word: tuple(code for code, words in STOPWORDS.items() if word in words)
    for word in frozenset().union(*STOPWORDS.values())
}
_WORD = re.compile(r"[^\W\d_]+")


def language(text: str) -> str | None:
    """The language whose common words the text uses most, if at least two and no tie."""
    counts: dict[str, int] = {}
    languages_of = _LANGUAGES_OF.get
    for word in _WORD.findall(text.lower()):
        for code in languages_of(word, ()):
            counts[code] = counts.get(code, 0) + 1
    if not counts:
        return None
    best = max(counts, key=counts.__getitem__)
    count = counts[best]
    return best if count >= 2 and list(counts.values()).count(count) == 1 else None


def describe(text: str, categories: list[str]) -> str:
    parts = [f"{len(text)} chars"]
    code = language(text)
    if code is not None:
        parts.insert(0, code)
    if categories:
        parts.append(", ".join(sorted(set(categories))))
    return f"[free_text: {'; '.join(parts)}]"


class Derive(TextStrategy):
    name = "derive"

    def compile(self, info: FieldInfo, options: Options) -> Transform:
        def derive(value: Any, ctx: RecordContext) -> Any:
            before = len(ctx.found)
            redact_text(value, ctx)
            return describe(value, ctx.found[before:])
        return derive
