from detect_cases import rule_tests

from processors.detect.token import TokenRule

RULE = TokenRule()

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
UNSIGNED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhYmMifQ."

VALID = [
    (f"token {JWT} expired", JWT),
    (f"https://shop.example.com/cb?id_token={JWT}&state=1", JWT),
    (f"unsigned {UNSIGNED} here", UNSIGNED),
    ("Authorization: Bearer abcdef0123456789ABCDEF.xyz", "Bearer abcdef0123456789ABCDEF.xyz"),
    ("Bearer mF_9.B5f-4.1JqM_0123== sent", "Bearer mF_9.B5f-4.1JqM_0123=="),
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("pk_test_TYooMQauvdEDq54NiTphI7jx", "pk_test_TYooMQauvdEDq54NiTphI7jx"),
    ("ghp_1234567890abcdefghijABCDEFGHIJ123456", "ghp_1234567890abcdefghijABCDEFGHIJ123456"),
    ("xoxb-1234567890-abcdefABCDEF", "xoxb-1234567890-abcdefABCDEF"),
    ("AWS AKIAIOSFODNN7EXAMPLE key", "AKIAIOSFODNN7EXAMPLE"),
    ("my session sess-00a1b2c3d4 broke", "sess-00a1b2c3d4"),
    ("sess_8f2kd9slq0", "sess_8f2kd9slq0"),
]

INVALID = [
    "event 4f1c2a9e-3b7d-4c1e-9a2b-1234567890ab",
    "eyJ alone",
    "eyJabc.eyJdef.ghi",
    "prefix_eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
    "Bearer token",
    "Bearer short123",
    "Bearer Verantwortungsbewusstsein",
    "The Bearer of bad news",
    "sk_live_short",
    "task_live_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_tooShort",
    "AKIA123",
    "sess-handling",
    "session_timeout",
    "obsess-12345678",
    "order ORD-2026-000123",
    "SKU 4006381333931",
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)
