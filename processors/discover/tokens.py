"""Field names as word tokens, in any of the spellings upstream teams use.

``customerEmail``, ``customer_email``, ``Customer-E-Mail`` and ``customer.email`` all give the
tokens ``customer``, ``email``: camel case and separators split, accents fold (``teléfono`` ->
``telefono``), ``e mail`` joins to ``email`` and a plural ``s`` is also tried by ``has``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^a-z0-9]+")
_JOINS = {("e", "mail"): "email", ("user", "agent"): "useragent", ("zip", "code"): "zipcode",
          ("post", "code"): "postcode", ("first", "name"): "firstname", ("last", "name"): "lastname",
          ("sur", "name"): "surname", ("full", "name"): "fullname", ("given", "name"): "givenname",
          ("family", "name"): "familyname", ("display", "name"): "displayname",
          ("user", "name"): "username", ("nick", "name"): "nickname", ("ip", "addr"): "ipaddress",
          ("ip", "address"): "ipaddress"}


def fold(text: str) -> str:
    """Lower case without accents: ``Straße`` -> ``strasse``, ``Téléphone`` -> ``telephone``."""
    text = text.replace("ß", "ss").replace("ẞ", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(name: str) -> tuple[str, ...]:
    """The word tokens of one field name, with the common two-word compounds also joined."""
    words = [w for w in _SPLIT.split(fold(_CAMEL.sub(" ", name))) if w]
    joined: list[str] = []
    for i, word in enumerate(words):
        joined.append(word)
        if i and (words[i - 1], word) in _JOINS:
            joined.append(_JOINS[words[i - 1], word])
    return tuple(joined)


def has(name_tokens: Iterable[str], vocabulary: Iterable[str]) -> str | None:
    """The first token that is a word of ``vocabulary`` (a trailing plural ``s`` or ``es`` may
    be dropped), or None."""
    words = {squash(word) for word in vocabulary}
    for token in name_tokens:
        bare = token.rstrip("0123456789")
        for form in (token, token[:-1] if token.endswith("s") else "", token[:-2] if token.endswith("es") else "",
                     bare if bare != token and len(bare) > 2 else ""):
            if form and squash(form) in words:
                return token
    return None


def squash(word: str) -> str:
    """``geraet`` and ``gerät`` (folded to ``gerat``) compare equal: German umlauts written out or not."""
    return word.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def is_exactly(name_tokens: tuple[str, ...], vocabulary: Iterable[str]) -> bool:
    """The name is one of ``vocabulary`` (all its tokens glued, e.g. ``e_mail`` -> ``email``)."""
    glued = squash("".join(t for t in name_tokens if t not in _JOINED))
    words = {squash(word) for word in vocabulary}
    return glued in words or (glued.endswith("s") and glued[:-1] in words)


_JOINED = frozenset(_JOINS.values())
