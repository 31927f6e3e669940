from discover_cases import classifier_tests

from processors.discover.classify.profile import ProfileClassifier

FOUND = [
    ("username", ["ana_g", "jberg"] * 10, "account.profile"),
    ("nickname", ["Lolo", "Jo"] * 10, "account.profile"),
    ("profile.avatar_url", ["https://cdn.example.com/a.png"] * 20, "account.profile"),
    ("geschlecht", ["w", "m"] * 10, "account.profile"),
    ("customer.title", ["Dr", "Ms"] * 10, "account.profile"),
    ("tax_id", ["DE123456789"] * 20, "account.profile"),
]
IGNORED = [
    ("page_title", ["Home"] * 20),
    ("items[].image", ["https://cdn.example.com/p.png"] * 20),
    ("username_verified", [True] * 20),
]

test_finds, test_ignores = classifier_tests(ProfileClassifier(), FOUND, IGNORED)
