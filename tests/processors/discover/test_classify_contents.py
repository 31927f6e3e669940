from discover_cases import EMAILS, classifier_tests

from processors.discover.classify.contents import ContentsClassifier

FOUND = [
    ("x", EMAILS, "contact.email"),
    ("y", ["DE89370400440532013000", "GB82WEST12345698765432"] * 10, "transaction.payment"),
    ("z", ["Call me on +44 20 7946 0958 after six", "write to lea@exemple.fr please"] * 10, "free_text"),
]
IGNORED = [
    ("kind", ["page_view", "click"] * 10),
    ("count", [1, 2] * 10),
]

test_finds, test_ignores = classifier_tests(ContentsClassifier(), FOUND, IGNORED)
