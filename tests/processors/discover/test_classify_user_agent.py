from discover_cases import classifier_tests

from processors.discover.classify.user_agent import UserAgentClassifier

AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"] * 10
FOUND = [
    ("user_agent", AGENTS, "device.info"),
    ("userAgent", AGENTS, "device.info"),
    ("headers.ua", AGENTS, "device.info"),
    ("client_software", AGENTS, "device.info"),    # by values alone
]
IGNORED = [
    ("agent_count", [1, 2] * 10),
    ("browser_family", ["Firefox", "Safari"] * 10),
]

test_finds, test_ignores = classifier_tests(UserAgentClassifier(), FOUND, IGNORED)
