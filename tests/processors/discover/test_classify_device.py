from discover_cases import UUIDS, classifier_tests

from processors.discover.classify.device import DeviceClassifier

FOUND = [
    ("device.model", ["Pixel 8", "iPhone 15"] * 10, "device.info"),
    ("device.language", ["en-GB", "de-DE"] * 10, "device.info"),
    ("geraet.betriebssystem", ["Android 14"] * 20, "device.info"),
    ("os", ["iOS 17", "Android 14"] * 10, "device.info"),
    ("browser", ["Firefox 125"] * 20, "device.info"),
]
IGNORED = [
    ("device.device_id", UUIDS),
    ("items[].model", ["K-200"] * 20),
    ("language", ["en", "de"] * 10),
]

test_finds, test_ignores = classifier_tests(DeviceClassifier(), FOUND, IGNORED)
