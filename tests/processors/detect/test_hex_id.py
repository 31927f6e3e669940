from detect_cases import rule_tests

from processors.detect.hex_id import HexIdRule

RULE = HexIdRule()

HEX32 = "9f86d081884c7d659a2feaa0c55ad015"
SHA1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"

VALID = [
    (f"session {HEX32} expired", HEX32),
    (f"reset token={HEX32}&x=1", HEX32),
    (f"commit {SHA1}", SHA1),
    ("ID 9F86D081884C7D659A2FEAA0C55AD015.", "9F86D081884C7D659A2FEAA0C55AD015"),
    ("uuid 4f1c2a9e3b7d4c1e9a2b1234567890ab", "4f1c2a9e3b7d4c1e9a2b1234567890ab"),
]

INVALID = [
    "event 4f1c2a9e-3b7d-4c1e-9a2b-1234567890ab",
    "short 9f86d081884c7d659a2feaa0c55ad01",
    "colour #ff8800",
    "order 12345678901234567890123456789012345",
    f"x{HEX32}",
    f"{HEX32}z",
    f"{HEX32}-more",
    "ORD-2026-000123 ships 2026-11-20",
    "deadbeefcafebabedeadbeefcafebabe 12345678",
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)
