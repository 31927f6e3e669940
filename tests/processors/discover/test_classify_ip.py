from discover_cases import UUIDS, classifier_tests

from processors.discover.classify.ip import IpClassifier

IPS = ["203.0.113.7", "198.51.100.22", "2001:db8::1", "192.0.2.254"] * 5
FOUND = [
    ("ip", IPS, "network.ip"),
    ("client_ip", IPS, "network.ip"),
    ("request.remoteAddr", IPS, "network.ip"),
    ("origin", IPS, "network.ip"),             # by values alone
]
IGNORED = [
    ("version", ["1.2.3", "2.0.1"] * 10),
    ("session_id", UUIDS),
    ("ip_count", [1, 2] * 10),
]

test_finds, test_ignores = classifier_tests(IpClassifier(), FOUND, IGNORED)


def test_format_ip_only_when_every_value_is_an_ip() -> None:
    from discover_cases import field_at

    assert IpClassifier().classify(field_at("ip", IPS))[0].format == "ip"
    assert IpClassifier().classify(field_at("ip", [*IPS, "unknown"]))[0].format is None
