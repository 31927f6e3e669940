from discover_cases import classifier_tests, field_at

from processors.discover.classify.browsing import BrowsingClassifier

URLS = ["https://shop.example.com/p/kettle", "https://shop.example.com/account?email=a%40b.example"] * 10
FOUND = [
    ("url", URLS, "behavior.browsing"),
    ("referrer", URLS, "behavior.browsing"),
    ("page.path", ["/p/kettle", "/checkout"] * 10, "behavior.browsing"),
    ("search_query", ["kettle", "rote schuhe"] * 10, "behavior.browsing"),
    ("suchbegriff", ["kettle", "rote schuhe"] * 10, "behavior.browsing"),
    ("came_from", URLS, "behavior.browsing"),      # by values alone
]
IGNORED = [
    ("avatar_url", ["https://cdn.example.com/a.png"] * 20),
    ("page_count", [1, 2] * 10),
    ("page_title", ["Home", "Cart"] * 10),
]

test_finds, test_ignores = classifier_tests(BrowsingClassifier(), FOUND, IGNORED)


def test_urls_are_scanned_and_have_format_url() -> None:
    evidence = BrowsingClassifier().classify(field_at("url", URLS))[0]
    assert evidence.scan and evidence.format == "url"
