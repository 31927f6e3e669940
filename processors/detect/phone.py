"""Telephone numbers: international (+CC …) and the common national layouts.

Accepted shapes:

- international: ``+`` country code then groups split by one space, dot or dash, with optional
  parenthesised groups (``+44 (0)20 7946 0958``, ``+1 (415) 555-2671``, ``+4915112345678``),
  or ``00`` country code followed by at least one separated group (``0049 30 1234567``);
- national with a trunk ``0`` or a parenthesised area code and at least one separator, ``/``
  allowed after the area code (``030 1234567``, ``030/1234567``, ``(030) 123 4567``,
  ``06 12 34 56 78``, ``(415) 555-2671``);
- national without separators: ``0`` + 9 or 10 digits (``07700900123``);
- North American ``NXX-NXX-XXXX`` with dashes, dots or spaces (``415.555.2671``);
- national numbers without trunk prefix (``600 123 456``, ``22 123 45 67``, ``912 345 678``:
  Polish, Spanish, Italian, …) only right after a phone word in one of the supported
  languages (``tel.``, ``phone``, ``Handy``, ``móvil``, ``cellulare``, ``telefon``, ``call``…,
  at most two words such as "me on" or "Nr." between); the span is the number alone.

Any of them may carry an extension (``ext. 12``, ``x123``, ``;ext=12``, ``Durchwahl 12``,
``poste 12``, ``interno 12``), which is part of the span.

Every match must hold 7–15 digits before any extension (E.164; a ``(0)`` trunk is not counted) and must not be laid
out like a date. Numbers preceded by letters, ``-``, ``.`` or ``/`` are skipped, so order ids
(``ORD-2026-000123``), IPv4 addresses and decimals never match.

Limits: not found are 7-digit local numbers without area code (``555-2671``), ``/`` anywhere
but after the area code, North American numbers breaking the NXX rules (``555-123-4567``),
``00`` numbers without any separator, and vanity letters. A number running straight into a
further digit group ("+49 30 1234567 2026") is rejected as a whole (more than 15 digits).
"""

from __future__ import annotations

import re
from typing import ClassVar

from processors.detect.base import Rule, Span

# Applied right after a match's first character (see Rule): the character before it.
_NOT_AFTER = r"(?<![\w+.\-/,].)"
_AFTER = r"(?!\w|[.\-/,]?[0-9])"
_GROUPS = r"(?:(?:[ .-]?\([0-9]{1,5}\)[ .-]?|[ .-])[0-9]{1,14})"
_NATIONAL_REST = r"[0-9]{2,8}(?:[ .-][0-9]{2,8}){0,4}"

_EXTENSION = r"(?:(?:,? ?(?:ext\.?|x|extension|Durchwahl|DW|poste|interno|int\.|ext\.?:) ?|;ext=)[0-9]{1,6})?"
_CUE_WORDS = (
    "tel|tél|telefon|telephone|téléphone|teléfono|telefono|telefone|telefoon|phone|mobile|mobil|móvil|"
    "movil|cell|cellulare|celular|handy|portable|tlf|tfno|whatsapp|call|ring|bel|bellen|chiamare|"
    "llamar|appeler|anrufen|zadzwoń|komórka|komórkowy"
)
# National numbers without a trunk 0 are found by their digits first (cheap: a digit-led
# pattern), then kept only if a cue word ends the text just before them, at most two of the
# _BETWEEN words away. Searching for the cue words first costs ten times as much per note.
# At least three groups: prices and decimals ("12.99", "1 234") have fewer.
_CUED_NUMBER = re.compile(r"[1-9]" + _NOT_AFTER + r"[0-9]{1,3}(?:[ .-][0-9]{2,4}){2,4}" + _EXTENSION + _AFTER)
# Only these may stand between the cue and the number: "call me on", "Tel. Nr.", "llamar al".
_BETWEEN = (
    "me|us|him|her|on|at|to|am|an|unter|bei|nr|no|number|nummer|numéro|número|numero|numer|"
    "au|le|al|el|il|op|naar|pod|na|mi"
)
_CUE_BEFORE = re.compile(rf"(?i)(?<!\w)(?:{_CUE_WORDS})[.:]?(?: (?:(?:{_BETWEEN})[.:]? ){{0,2}}| ?[.:] ?| )\Z")
_CUE_WINDOW = 40
_DATE_START = re.compile(
    r"[0-9]{1,2}([./-])[0-9]{1,2}\1[0-9]{2,4}|(?:19|20)[0-9]{2}[ ./-][0-9]{1,2}[ ./-][0-9]{1,2}(?![0-9])"
)
_LETTER = re.compile(r"[;A-Za-z]")
_DATE = re.compile(r"[0-9]{1,2}([./ -])[0-9]{1,2}\1[0-9]{2,4}|[0-9]{4}([./ -])[0-9]{1,2}\2[0-9]{1,2}")


class PhoneRule(Rule):
    name: ClassVar[str] = "phone"
    category: ClassVar[str] = "contact.phone"
    MIN_DIGITS: ClassVar[int] = 7
    LITERALS: ClassVar[tuple[str, ...]] = ("+", "(", "00", "0", "")
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"\+" + _NOT_AFTER + r"[1-9][0-9]{0,14}" + _GROUPS + "*" + _EXTENSION + _AFTER),
        re.compile(r"\(" + _NOT_AFTER + r"0?[1-9][0-9]{1,4}\)[ .-]?" + _NATIONAL_REST + _EXTENSION + _AFTER),
        re.compile(r"0" + _NOT_AFTER + r"0[1-9][0-9]{0,3}" + _GROUPS + "+" + _EXTENSION + _AFTER),
        re.compile(r"0" + _NOT_AFTER + r"[1-9](?:[0-9]{0,4}(?:[ .-]| ?/ ?)" + _NATIONAL_REST + "|[0-9]{8,9})"
                   + _EXTENSION + _AFTER),
        re.compile(r"[2-9]" + _NOT_AFTER + r"[0-9]{2}([ .-])[2-9][0-9]{2}\1[0-9]{4}" + _EXTENSION + _AFTER),
    )

    def find(self, text: str) -> list[Span]:
        spans = super().find(text)
        for match in _CUED_NUMBER.finditer(text):
            start = match.start()
            if any(span.start <= start < span.end for span in spans):
                continue
            if (self.validate(match.group()) and _DATE_START.match(text, start) is None
                    and _CUE_BEFORE.search(text, max(0, start - _CUE_WINDOW), start) is not None):
                spans.append(Span(start, match.end(), self.category, self.name))
        return spans

    def validate(self, candidate: str) -> bool:
        extension = _LETTER.search(candidate)
        if extension is not None:
            candidate = candidate[: extension.start()].rstrip(" ,")
        # Candidates hold only digits and these separators; replace() beats counting digits.
        bare = candidate.replace(" ", "").replace("-", "").replace(".", "").replace("/", "").replace("+", "")
        digits = len(bare.replace("(0)", "").replace("(", "").replace(")", ""))
        return 7 <= digits <= 15 and _DATE.fullmatch(candidate) is None
