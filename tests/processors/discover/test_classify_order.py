from discover_cases import classifier_tests

from processors.discover.classify.order import OrderClassifier

FOUND = [
    ("order_id", ["ORD-1000001", "ORD-1000002"] * 10, "transaction.order"),
    ("bestellnummer", ["B-1", "B-2"] * 10, "transaction.order"),
    ("commande.id", ["C-1", "C-2"] * 10, "transaction.order"),
    ("invoice_no", ["INV-7", "INV-8"] * 10, "transaction.order"),
    ("total_amount", [39.9, 12.5] * 10, "transaction.order"),
    ("gesamtbetrag", [39.9, 12.5] * 10, "transaction.order"),
    ("importe_total", [39.9, 12.5] * 10, "transaction.order"),
]
IGNORED = [
    ("items[].unit_price", [39.9, 12.5] * 10),
    ("items[].total", [39.9, 12.5] * 10),
    ("order_status", ["placed", "paid"] * 10),
    ("quantity", [1, 2] * 10),
]

test_finds, test_ignores = classifier_tests(OrderClassifier(), FOUND, IGNORED)
