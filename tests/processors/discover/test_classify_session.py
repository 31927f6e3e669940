from discover_cases import UUIDS, classifier_tests

from processors.discover.classify.session import SessionClassifier

JWTS = ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"] * 20
FOUND = [
    ("session_id", ["sess-5d2c9e71", "sess-0a1b2c3d"] * 10, "identifier.session"),
    ("visitorId", UUIDS, "identifier.session"),
    ("anonymous_id", UUIDS, "identifier.session"),
    ("device_id", UUIDS, "identifier.session"),
    ("context.device.idfa", UUIDS, "identifier.session"),
    ("cookie_id", UUIDS, "identifier.session"),
    ("auth.access_token", JWTS, "identifier.session"),
    ("bearer", JWTS, "identifier.session"),
    ("wifi", ["00:1A:2B:3C:4D:5E", "AA:BB:CC:DD:EE:FF"] * 10, "identifier.session"),
]
IGNORED = [
    ("session_duration", [30, 45] * 10),
    ("device_type", ["mobile", "desktop"] * 10),
    ("device.model", ["Pixel 8", "iPhone 15"] * 10),
    ("event_id", UUIDS),
]

test_finds, test_ignores = classifier_tests(SessionClassifier(), FOUND, IGNORED)
