from discover_cases import UUIDS, classifier_tests

from processors.discover.classify.customer import CustomerClassifier

FOUND = [
    ("customer_id", ["cust-100001", "cust-100002"] * 10, "identifier.customer"),
    ("userId", UUIDS, "identifier.customer"),
    ("member_number", ["M-77812", "M-77813"] * 10, "identifier.customer"),
    ("kundennummer", ["K123456", "K123457"] * 10, "identifier.customer"),
    ("id_cliente", [10023, 10024] * 10, "identifier.customer"),
    ("customer.id", UUIDS, "identifier.customer"),
    ("loyalty.card_number", ["LC-0091", "LC-0092"] * 10, "identifier.customer"),
]
IGNORED = [
    ("customer_type", ["b2b", "b2c"] * 10),
    ("user_agent", ["Mozilla/5.0 (X11)"] * 20),
    ("event_id", UUIDS),
    ("customer.name", ["Ana García"] * 20),
]

test_finds, test_ignores = classifier_tests(CustomerClassifier(), FOUND, IGNORED)
