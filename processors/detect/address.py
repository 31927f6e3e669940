"""Street addresses, flat/apartment numbers and UK postcodes in free text, tuned for precision.

Found:

- English style: house number, one to four capitalised name words, a street suffix
  (``221B Baker Street``, ``1600 Pennsylvania Avenue NW``, ``350 5th Ave``);
- German, Dutch and Scandinavian style: a compound street name then a house number
  (``Hauptstraße 5``, ``Lindenstr. 12a``, ``Karl-Marx-Allee 90``, ``Kalverstraat 92``,
  ``Dorpsstraat 3-II``, ``Drottninggatan 53``, ``Østerbrogade 10``), or
  ``<place>er Straße|Weg|Allee|…`` (``Berliner Straße 12``);
- French style: house number (``bis``/``ter`` allowed), a street type, then articles and
  capitalised words (``12 rue de la Paix``, ``3 bis avenue Victor Hugo``, ``8, Quai d'Orsay``);
- Spanish, Italian and Portuguese style: a capitalised street type, articles and capitalised
  words, then the house number (``Calle Mayor 5``, ``C/ Gran Vía, 28``, ``Via Roma 10``,
  ``Piazza della Signoria 5``, ``Rua Augusta 100``, ``Avenida da Liberdade 245``);
- Polish style after ``ul.`` or ``al.`` (``ul. Długa 5``, ``al. Jerozolimskie 12/4``,
  ``ul. Polna 3 m. 12``);
- flat and apartment numbers (``Flat 3``, ``Apt. 4B``, ``Wohnung 7``, ``Appartement 12``), and
  ``Studio``/``Suite``/``Unit`` numbers only when a house number follows (``Studio 2, 14 …``);
- UK postcodes in their official layout (``SW1A 1AA``, ``NW1 6XE``, ``M1 1AE``).

Not found, by design: lower-case English addresses (``10 downing street``), street names without
a house number, PO boxes, lower-case Spanish, Italian and Portuguese street types
(``via Roma 10``: "via Amazon 2" is not an address, and a lower-case first letter would cost a
try at every "c", "v", "p" of a note), ``Corso``, ``Largo`` and ``Ronda`` (as often "course",
"long" and "round" as streets: "Corso Python 3"), US ZIP codes and any other bare number, city
or country names, German and Polish streets without a street word (``Am Markt 5``,
``Unter den Linden 77``, ``Długa 5``). A sentence such as "Chapter 3 Main Place" still reads
as an address; a few function words (The, A, Of, …) are refused as name words to cut the
commonest of those. A number followed by a unit or a currency
(``Via Francigena 100 km``, ``Flat 5 EUR``) is not a house number.
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
_ENGLISH_STREET = (
    rf"[A-Za-z]?+(?:-[0-9]{{1,5}})?+,?+ (?:{_NAME_WORD} ){{1,4}}(?:{_SUFFIXES})\b(?: (?:NE|NW|SE|SW|N|S|E|W)\b)?"
)

_UP = "A-ZÄÖÜÅØÆ"
_LOW = "a-zäöüßåøæéè"
_COMPOUND = (
    "straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|laan|straat|gracht|plein|"
    "gatan|gata|vägen|vej|gade|veien|vegen"
)
_WORD_FORM = "Straße|Strasse|Str\\.|Weg|Gasse|Platz|Allee|Ring|Damm"
# A unit or currency after a number makes it a quantity, not a house number.
_NOT_QUANTITY = (
    r"(?! ?(?:%|€|\$|£|(?:km|m|kg|g|cm|mm|h|min|EUR|USD|GBP|eur|euro|euros|x|pcs|off|qm|m²|sqm|sq|"
    r"stars?|nights?|days?|weeks?|months?|years?|hours?|items?|pieces?|people|persons?|times|"
    r"parcels?|packages?|boxes|bottles?|pairs?|units?|tickets?|orders?|Pakete|Stück|Stk|colis|paquetes|pacchi|pz|"
    r"Sterne|Nächte|Tage|étoiles|nuits|jours|estrellas|noches|días|stelle|notti|giorni|estrelas|noites|dias)\b))"
)
_HOUSE_NUMBER = (
    r" ?[0-9]{1,4}" + _NOT_QUANTITY + r"(?:[a-z]\b)?(?:-(?:[0-9]{1,4}|I{1,3}V?|[A-Ha-h]\b))?(?:\s(?:hs|bis)\b)?"
    r"(?![\w.,]?[0-9])"
)
# Only capitalised words followed, within one more word, by a number are worth the suffix search.
_NUMBER_NEAR = r"(?=[^\s0-9]*+ ?(?:[^\s0-9]++ )?[0-9])"
_CONTINENTAL = (
    rf"[{_UP}](?<![\w-].){_NUMBER_NEAR}(?:[{_LOW}]+(?:-[{_UP}][{_LOW}]+)*(?:{_COMPOUND}|-(?:{_WORD_FORM}))"
    rf"|[{_LOW}]+er (?:{_WORD_FORM})){_HOUSE_NUMBER}"
)

_CAP_WORD = r"[A-ZÀ-ÖØ-ÞĆŁŃŚŹŻ][a-zà-öø-ÿąćęłńśźż]+(?:[-'’][A-ZÀ-Þa-zà-ÿ]+)*"
_FR_ARTICLES = r"(?:(?:de|du|des|la|le|les|aux?) |[dl]['’])*"
_FRENCH_STREET = (
    r"(?: ?(?:bis|ter|quater)\b|[A-Da-d]\b)?,? "
    r"(?:[Rr]ue|[Aa]venue|[Aa]v\.|[Bb]oulevard|[Bb]d|[Aa]llée|[Ii]mpasse|[Cc]hemin|[Qq]uai|[Cc]ours|"
    r"place|route|square|passage|Place (?=d))"
    rf" {_FR_ARTICLES}{_CAP_WORD}(?: {_FR_ARTICLES}{_CAP_WORD}){{0,3}}"
)
# Both layouts start with the house number: one pattern, so each digit is tried once.
_NUMBER_FIRST = rf"[0-9](?<![\w.,/-].)[0-9]{{0,4}}+(?:{_ENGLISH_STREET}|{_FRENCH_STREET})"
_ROMANCE_ARTICLES = r"(?:(?:de|del|dels|de la|de las|de los|di|della|delle|degli|dei|da|do|dos|das|d'|dell') ?)*"
_ROMANCE_STREET = (
    rf"(?:(?<=C)/|(?<=C)(?:alle|amino|arrer)|"
    rf"(?<=A)(?:venida|vda\.|lameda)|(?<=P)(?:aseo|laza|iazza|iazzale|raça)|(?<=V)(?:ia|iale|icolo)|"
    rf"(?<=R)ua|(?<=T)(?:ravesía|ravessa)|(?<=S)trada|(?<=E)strada)"
    rf" {_ROMANCE_ARTICLES}(?:{_CAP_WORD} {_ROMANCE_ARTICLES}){{0,3}}{_CAP_WORD},?{_HOUSE_NUMBER}"
)
_UNIT_NUMBER = r" ?[0-9]{1,4}" + _NOT_QUANTITY + r"[A-Za-z]?(?![\w.,]?[0-9])(?!\w)"
# Studio, Suite and Unit only when a house number follows ("Studio 2, 14 rue …").
_UNIT = (
    r"(?:(?<=F)lat|(?<=A)(?:pt\.?|partment|ppartement|ppt\.?)|(?<=W)(?:ohnung|hg\.)|"
    r"(?:(?<=S)(?:tudio|uite)|(?<=U)nit)(?= ?[0-9]{1,4}[A-Za-z]?,? [0-9]))" + _UNIT_NUMBER
)
# Both start with a capital: one pattern, so each capital is tried once.
_CAPITAL_FIRST = rf"[CAPVRTSEFWU](?<![\w-].)(?:{_ROMANCE_STREET}|{_UNIT})"

# Polish: "ul. Długa 5", "al. Jerozolimskie 12/4", "ul. Polna 3 m. 12" (m. = flat).
_POLISH = (
    rf"[ua]l\.(?<![\w]...)(?: {_CAP_WORD}){{1,3}} [0-9]{{1,4}}[a-zA-Z]?(?:/[0-9]{{1,4}}[a-zA-Z]?| m\. ?[0-9]{{1,4}})?"
    r"(?![\w.,]?[0-9])"
)

_UK_POSTCODE = (
    r"[A-PR-UWYZ](?<![\w-].)(?:[A-HK-Y][0-9][ABEHMNPRVWXY0-9]?|[0-9][A-HJKPSTUW0-9]?)"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2}(?![\w-])"
)


class AddressRule(Rule):
    name: ClassVar[str] = "address"
    category: ClassVar[str] = "contact.address"
    MIN_DIGITS: ClassVar[int] = 1
    NEEDS_UPPER: ClassVar[bool] = True   # every layout holds a capital (a name word, street type, postcode)
    LITERALS: ClassVar[tuple[str, ...]] = ("", "", "", "l.", "")
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(_NUMBER_FIRST),
        re.compile(_CONTINENTAL),
        re.compile(_CAPITAL_FIRST),
        re.compile(_POLISH),
        re.compile(_UK_POSTCODE),
    )
