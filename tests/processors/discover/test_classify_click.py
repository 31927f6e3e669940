from discover_cases import classifier_tests

from processors.discover.classify.click import ClickClassifier

FOUND = [
    ("click_target", ["button#checkout", "a.nav"] * 10, "behavior.click"),
    ("element", ["button#buy"] * 20, "behavior.click"),
    ("css_selector", ["div > a"] * 20, "behavior.click"),
]
IGNORED = [
    ("target_group", ["adults"] * 20),
    ("click_count", [1, 2] * 10),
]

test_finds, test_ignores = classifier_tests(ClickClassifier(), FOUND, IGNORED)
