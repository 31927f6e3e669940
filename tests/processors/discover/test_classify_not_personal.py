from discover_cases import TIMES, UUIDS, classifier_tests

from processors.discover.classify.not_personal import NotPersonalClassifier

FOUND = [
    ("event_id", UUIDS, None),
    ("occurred_at", TIMES, None),
    ("currency", ["EUR", "USD"] * 10, None),
    ("status", ["open", "closed"] * 10, None),
    ("items[].sku", ["SKU-1", "SKU-2"] * 10, None),
    ("newsletter", [True, False] * 10, None),
    ("country", ["DE", "FR"] * 10, None),
]
IGNORED = [
    ("email", ["a@b.example"] * 20),
]

test_finds, test_ignores = classifier_tests(NotPersonalClassifier(), FOUND, IGNORED)


def test_timestamps_get_the_timestamp_format() -> None:
    from discover_cases import field_at

    assert NotPersonalClassifier().classify(field_at("occurred_at", TIMES))[0].format == "timestamp"
