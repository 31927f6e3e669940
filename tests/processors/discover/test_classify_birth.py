from discover_cases import TIMES, classifier_tests

from processors.discover.classify.birth import BirthClassifier

FOUND = [
    ("date_of_birth", ["1990-04-17", "1985-12-01"] * 10, "identity.dob"),
    ("geburtsdatum", ["17.04.1990", "01.12.1985"] * 10, "identity.dob"),
    ("fecha_nacimiento", ["1990-04-17"] * 20, "identity.dob"),
    ("customer.dob", ["1990-04-17"] * 20, "identity.dob"),
    ("birth_year", [1990, 1985] * 10, "identity.dob"),
    ("age", [34, 51, 17] * 7, "account.profile"),
]
IGNORED = [
    ("created_at", TIMES),
    ("quantity", [1, 2] * 10),
    ("stage", ["new", "old"] * 10),
]

test_finds, test_ignores = classifier_tests(BirthClassifier(), FOUND, IGNORED)
