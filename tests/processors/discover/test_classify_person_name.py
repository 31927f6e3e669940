from discover_cases import NAMES, classifier_tests

from processors.discover.classify.person_name import PersonNameClassifier

FOUND = [
    ("customer.name", NAMES, "identity.name"),
    ("first_name", ["Ana", "Jonas", "Léa"] * 7, "identity.name"),
    ("nachname", ["Berg", "Müller"] * 10, "identity.name"),
    ("kunde.vorname", ["Jonas", "Lena"] * 10, "identity.name"),
    ("apellidos", ["García López", "Ruiz"] * 10, "identity.name"),
    ("prenom", ["Léa", "Hugo"] * 10, "identity.name"),
    ("recipient.fullName", NAMES, "identity.name"),
    ("name", NAMES, "identity.name"),              # top level, people's names
    ("items[].name", ["Tea kettle", "Phone case"] * 10, None),
    ("products[].name", ["Tea kettle", "Phone case"] * 10, None),
]
IGNORED = [
    ("items[].name", ["Tea kettle", "Phone case"] * 10),
    ("username", ["ana_g", "jberg"] * 10),
    ("file_name", ["report.pdf", "invoice.pdf"] * 10),
    ("device.name", ["Pixel 8", "iPhone 15"] * 10),
    ("city", ["Madrid", "Berlin"] * 10),
]

test_finds, test_ignores = classifier_tests(PersonNameClassifier(), FOUND, IGNORED)
