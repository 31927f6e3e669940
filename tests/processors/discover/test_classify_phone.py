from discover_cases import PHONES, UUIDS, classifier_tests

from processors.discover.classify.phone import PhoneClassifier

FOUND = [
    ("phone", PHONES, "contact.phone"),
    ("telefon", PHONES, "contact.phone"),
    ("cliente.telefono", PHONES, "contact.phone"),
    ("mobileNumber", PHONES, "contact.phone"),
    ("handy", PHONES, "contact.phone"),
    ("contact.tel", PHONES, "contact.phone"),
    ("reachable_at", PHONES, "contact.phone"),   # by values alone
]
IGNORED = [
    ("phone_verified", [True, False] * 10),
    ("phone_type", ["mobile", "landline"] * 10),
    ("ip", ["203.0.113.7", "198.51.100.22"] * 10),
    ("order_id", UUIDS),
    ("quantity", [1, 2, 3] * 7),
]

test_finds, test_ignores = classifier_tests(PhoneClassifier(), FOUND, IGNORED)
