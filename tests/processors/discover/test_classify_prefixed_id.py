from discover_cases import classifier_tests

from processors.discover.classify.prefixed_id import PrefixedIdClassifier


def ids(prefix: str) -> list[str]:
    return [f"{prefix}{n:08x}a1" for n in range(20)]


FOUND = [
    ("data.customer", ids("cus_"), "identifier.customer"),
    ("owner", ids("usr-"), "identifier.customer"),
    ("object.id", ids("ch_"), "transaction.payment"),
    ("ref", ids("ord_"), "transaction.order"),
    ("x", ids("sess_"), "identifier.session"),
    ("id", ids("evt_"), None),
    ("product", ids("prod_"), None),
]
IGNORED = [
    ("id", [f"{n:012x}" for n in range(20)]),       # no prefix
    ("name", ["Ana García"] * 20),
    ("id", ids("zzq_")),                             # a prefix it does not know
]

test_finds, test_ignores = classifier_tests(PrefixedIdClassifier(), FOUND, IGNORED)
