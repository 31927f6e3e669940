"""Ids whose values carry their kind in a prefix: ``cus_…``, ``usr-…``, ``ord_…``, ``ch_…``, ``evt_…``.

APIs such as Stripe's prefix every id with what it identifies; the prefix says more than a field
called ``id`` or ``object`` does.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

_PREFIX = re.compile(r"([A-Za-z]{1,10})[_-][A-Za-z0-9]{4,}\Z")
PREFIXES: dict[str, str | None] = {
    **dict.fromkeys(("cus", "cust", "customer", "usr", "user", "u", "member", "mbr", "acct", "account", "client",
                     "kd", "kunde", "klant", "uid", "profile", "prof", "sub", "subscriber"), "identifier.customer"),
    **dict.fromkeys(("sess", "session", "sid", "vis", "visitor", "anon", "dev", "device", "ck", "cookie", "fp",
                     "browser", "install"), "identifier.session"),
    **dict.fromkeys(("ord", "order", "cmd", "bst", "inv", "invoice", "in", "cart", "basket", "trip", "booking",
                     "bk", "quote", "so", "po"), "transaction.order"),
    **dict.fromkeys(("ch", "py", "pi", "pm", "pay", "payment", "txn", "tx", "card", "src", "ba", "re", "refund",
                     "charge", "iban", "mandate"), "transaction.payment"),
    **dict.fromkeys(("trk", "track", "shp", "ship", "shipment", "parcel", "dlv"), "transaction.logistics"),
    **dict.fromkeys(("evt", "ev", "event", "msg", "req", "trace", "log", "job", "run", "sku", "prod", "product",
                     "item", "art", "cat", "price", "plan", "coupon", "promo", "cmp", "campaign", "tpl", "store",
                     "shop", "agent", "team", "ticket", "tck", "case"), None),
}


class PrefixedIdClassifier(Classifier):
    name: ClassVar[str] = "prefixed_id"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind != "string" or not field.values:
            return []
        prefixes: Counter[str] = Counter()
        for value in field.values:
            match = _PREFIX.match(value)
            prefixes[match.group(1).lower() if match else ""] += 1
        prefix, count = prefixes.most_common(1)[0]
        if not prefix or count < 0.9 * len(field.values) or prefix not in PREFIXES:
            return []
        category = PREFIXES[prefix]
        reason = f"values are ids prefixed '{prefix}'"
        fmt = "identifier" if category in ("identifier.session", "transaction.order") else None
        return [Evidence(category, 0.7, reason, format=fmt)]
