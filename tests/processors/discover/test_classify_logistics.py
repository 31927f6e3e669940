from discover_cases import classifier_tests

from processors.discover.classify.logistics import LogisticsClassifier

FOUND = [
    ("carrier", ["DHL", "UPS"] * 10, "transaction.logistics"),
    ("tracking_number", ["JD014600006281230"] * 20, "transaction.logistics"),
    ("sendungsnummer", ["00340434161094042557"] * 20, "transaction.logistics"),
    ("envio.transportista", ["SEUR", "MRW"] * 10, "transaction.logistics"),
]
IGNORED = [
    ("delivery_address.street", ["Hauptstraße 5"] * 20),
    ("delivery_notes", ["Leave it with the neighbour please"] * 20),
    ("shipping_cost", [4.99] * 20),
]

test_finds, test_ignores = classifier_tests(LogisticsClassifier(), FOUND, IGNORED)
