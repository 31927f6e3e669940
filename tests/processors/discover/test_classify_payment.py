from discover_cases import classifier_tests

from processors.discover.classify.payment import PaymentClassifier

FOUND = [
    ("payment_status", ["paid", "pending"] * 10, "transaction.payment"),
    ("payment.method", ["card", "paypal"] * 10, "transaction.payment"),
    ("zahlungsart", ["Rechnung", "Karte"] * 10, "transaction.payment"),
    ("iban", ["DE89370400440532013000"] * 20, "transaction.payment"),
    ("card_last4", ["4242", "1881"] * 10, "transaction.payment"),
]
IGNORED = [
    ("payment.amount", [10.0, 20.0] * 10),
    ("billing_address", ["1 Main St"] * 20),
    ("paid_at", ["2026-10-01T08:00:00Z"] * 20),
]

test_finds, test_ignores = classifier_tests(PaymentClassifier(), FOUND, IGNORED)
