"""Street addresses and UK postcodes in free text, tuned for precision over recall.

Found:

- English style: house number, one to four capitalised name words, a street suffix
  (``221B Baker Street``, ``1600 Pennsylvania Avenue NW``, ``350 5th Ave``);
- German, Dutch and Scandinavian style: a compound street name then a house number
  (``Hauptstraße 5``, ``Lindenstr. 12a``, ``Karl-Marx-Allee 90``, ``Kalverstraat 92``,
  ``Drottninggatan 53``, ``Østerbrogade 10``), or ``<place>er Straße|Weg|Allee|…``
  (``Berliner Straße 12``);
- UK postcodes in their official layout (``SW1A 1AA``, ``NW1 6XE``, ``M1 1AE``).

Not found, by design: lower-case addresses (``10 downing street``), street names without a house
number, PO boxes, French/Spanish/Italian layouts (``12 rue de la Paix``, ``Calle Mayor 5``),
US ZIP codes and any other bare number (a 5-digit number is far more often something else), and
city or country names. A sentence such as "Chapter 3 Main Place" still reads as an address;
a few function words (The, A, Of, …) are refused as name words to cut the commonest of those.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processors.detect.base import Rule

_SUFFIXES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Place|Pl|Way|"
    "Square|Sq|Terrace|Close|Crescent"
)
_STOP = r"(?!(?:The|A|An|And|Or|Of|In|On|At|To|For|By|From|With|My|Our|Your|Its|This|That)\b)"
_NAME_WORD = rf"{_STOP}(?:[A-Z][a-z]+(?:['’-][A-Za-z]+)*|[0-9]{{1,3}}(?:st|nd|rd|th))"
_ENGLISH = (
    rf"[0-9](?<![\w.,/-].)[0-9]{{0,4}}+[A-Za-z]?+(?:-[0-9]{{1,5}})?+,?+ (?:{_NAME_WORD} ){{1,4}}"
    rf"(?:{_SUFFIXES})\b(?: (?:NE|NW|SE|SW|N|S|E|W)\b)?"
)

_UP = "A-ZÄÖÜÅØÆ"
_LOW = "a-zäöüßåøæéè"
_COMPOUND = (
    "straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|laan|straat|gracht|plein|"
    "gatan|gata|vägen|vej|gade|veien|vegen"
)
_WORD_FORM = "Straße|Strasse|Str\\.|Weg|Gasse|Platz|Allee|Ring|Damm"
_HOUSE_NUMBER = r" ?[0-9]{1,4}(?:[a-z]\b)?(?:-[0-9]{1,4})?(?![\w.,]?[0-9])"
# Only capitalised words followed, within one more word, by a number are worth the suffix search.
_NUMBER_NEAR = r"(?=[^\s0-9]*+ ?(?:[^\s0-9]++ )?[0-9])"
_CONTINENTAL = (
    rf"[{_UP}](?<![\w-].){_NUMBER_NEAR}(?:[{_LOW}]+(?:-[{_UP}][{_LOW}]+)*(?:{_COMPOUND}|-(?:{_WORD_FORM}))"
    rf"|[{_LOW}]+er (?:{_WORD_FORM})){_HOUSE_NUMBER}"
)

_UK_POSTCODE = (
    r"[A-PR-UWYZ](?<![\w-].)(?:[A-HK-Y][0-9][ABEHMNPRVWXY0-9]?|[0-9][A-HJKPSTUW0-9]?)"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2}(?![\w-])"
)


class AddressRule(Rule):
    name: ClassVar[str] = "address"
    category: ClassVar[str] = "contact.address"
    MIN_DIGITS: ClassVar[int] = 1
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(_ENGLISH),
        re.compile(_CONTINENTAL),
        re.compile(_UK_POSTCODE),
    )
