"""Session and access tokens in free text: JWTs, bearer tokens and well-known prefixed keys.

Found:

- JWT-like tokens: two base64url segments that decode to JSON objects (both start ``eyJ``),
  a dot, and a signature segment that may be empty (``eyJhbGciOi….eyJzdWIiOi….SflKxwRJ…``);
- ``Bearer <token>`` with a token of at least 16 characters, one a digit (the word is part of
  the span);
- prefixed keys and session ids whose prefix says what they are: ``sk_live_…``/``pk_test_…``
  style API keys, GitHub tokens (``ghp_…``), Slack tokens (``xoxb-…``), AWS access key ids
  (``AKIA…``), and ``sess_…``/``sess-…`` session ids holding at least one digit.

All are ``identifier.session``: in an order note or a URL they name a session or a credential
acting for one person, and the policy's session default (pseudonymize or drop) is the right
treatment, not the customer-id one. Long hexadecimal strings are the ``hex_id`` rule.

Not found, by design: UUIDs (``4f1c2a9e-3b7d-…``): in notes and URLs they are far more often
event, order or request ids than anything personal, and the record's own ids are removed by the
record-context pass anyway; device ids (IDFA, AAID) are UUIDs and are missed with them. Opaque
tokens without a prefix or a ``Bearer`` word are not told apart from product codes.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processors.detect.base import Rule

_B64URL = "[A-Za-z0-9_-]"
_END = r"(?![\w-])"


# Each pattern starts with a literal; a substring test says whether the pattern is worth running.
_BY_LITERAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("eyJ", re.compile(rf"eyJ(?<![\w.-]...){_B64URL}{{8,}}\.eyJ{_B64URL}{{8,}}\.{_B64URL}*{_END}")),
    ("Bearer", re.compile(r"Bearer(?<![\w-].{6}) (?=[^\s0-9]*[0-9])[A-Za-z0-9._~+/-]{16,}=*(?![\w.~+/=-])")),
    ("_live_", re.compile(r"[spr]k_live_(?<![\w-].{8})[A-Za-z0-9]{16,}" + _END)),
    ("_test_", re.compile(r"[spr]k_test_(?<![\w-].{8})[A-Za-z0-9]{16,}" + _END)),
    ("gh", re.compile(r"gh[pousr]_(?<![\w-].{4})[A-Za-z0-9]{36,}" + _END)),
    ("xox", re.compile(r"xox[abprs]-(?<![\w-].{5})[A-Za-z0-9-]{10,}" + _END)),
    ("AKIA", re.compile(r"AKIA(?<![\w-].{4})[0-9A-Z]{16}" + _END)),
    ("sess", re.compile(r"sess[-_](?<![\w-].{5})(?=[A-Za-z]*[0-9])[A-Za-z0-9]{8,}" + _END)),
)


class TokenRule(Rule):
    name: ClassVar[str] = "token"
    category: ClassVar[str] = "identifier.session"
    PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = tuple(pattern for _, pattern in _BY_LITERAL)
    LITERALS: ClassVar[tuple[str, ...]] = tuple(literal for literal, _ in _BY_LITERAL)
