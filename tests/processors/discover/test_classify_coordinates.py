from discover_cases import classifier_tests

from processors.discover.classify.coordinates import CoordinatesClassifier

FOUND = [
    ("geo.lat", [48.8566, 40.4168, 52.52] * 7, "location.precise"),
    ("geo.lng", [2.3522, -3.7038, 13.405] * 7, "location.precise"),
    ("position.latitude", [48.8566, 40.4168] * 10, "location.precise"),
    ("standort.breitengrad", [52.52, 48.13] * 10, "location.precise"),
    ("gps", ["48.85661,2.35222", "40.41678,-3.70379"] * 10, "location.precise"),
    ("coordinates", [[48.8566, 2.3522], [40.4168, -3.7038]] * 10, "location.precise"),
]
IGNORED = [
    ("lat", [120.5, 95.1] * 10),                   # out of range for a latitude
    ("long_description", ["A long text here"] * 20),
    ("total", [48.8566, 40.4168] * 10),
    ("dimensions", [[10.0, 20.0, 30.0]] * 20),
]

test_finds, test_ignores = classifier_tests(CoordinatesClassifier(), FOUND, IGNORED)
