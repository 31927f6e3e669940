"""A third labelled set for ``bench/discover_score.py --set blind``, written after all tuning and not
tuned on: a US marketplace checkout (camelCase, nested arrays of parties), Swedish and Polish consent
records, and a mobile-app telemetry stream with device identifiers and tokens."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.discover_data import Person


class Blind:
    def __init__(self, seed: int = 9, people: int = 60) -> None:
        self.rng = random.Random(seed)
        self.people = [Person(self.rng, n) for n in range(people)]
        self.start = datetime(2026, 7, 1, tzinfo=UTC)

    def _time(self) -> str:
        return (self.start + timedelta(seconds=self.rng.randrange(5_000_000))).isoformat()

    def checkout(self) -> dict[str, Any]:
        p, q, rng = self.rng.choice(self.people), self.rng.choice(self.people), self.rng
        return {
            "checkoutId": str(uuid.UUID(int=rng.getrandbits(128))), "placedAt": self._time(),
            "buyerAccountId": f"acct_{rng.getrandbits(40):010x}",
            "contact": {"emailAddress": p.email, "phoneNumber": p.phone},
            "shipTo": {"recipientName": q.name, "streetAddress": p.street, "city": p.city, "stateCode": "TX",
                       "postalCode": p.postcode, "countryCode": p.country},
            "parties": [{"role": rng.choice(("seller", "courier")), "partyId": f"S{rng.randrange(999)}",
                         "displayName": rng.choice(("BestDeals LLC", "FastShip Inc"))}],
            "cart": {"lineItems": [{"listingId": f"L{rng.randrange(10**5)}", "title": "USB cable", "qty": 2,
                                    "unitPrice": 7.5}], "grandTotal": round(rng.uniform(10, 300), 2)},
            "promoCode": rng.choice((None, "SUMMER10")),
            "giftNote": rng.choice((None, f"Happy birthday {q.first}! Love, {p.first}")),
            "clientIp": p.ip, "authToken": f"eyJhbGciOiJIUzI1NiJ9.{rng.getrandbits(64):016x}.sig",
        }

    def consent(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        swedish = rng.random() < 0.5
        if swedish:
            return {"handelse_id": str(uuid.UUID(int=rng.getrandbits(128))), "tidpunkt": self._time(),
                    "anvandare": {"kundnummer": f"K{rng.randrange(10**6)}", "fornamn": p.first, "efternamn": p.last,
                                  "epost": p.email},
                    "samtycke": {"syfte": rng.choice(("marknadsforing", "analys")), "givet": rng.random() < 0.5},
                    "ip_adress": p.ip, "sprak": "sv-SE"}
        return {"handelse_id": str(uuid.UUID(int=rng.getrandbits(128))), "tidpunkt": self._time(),
                "anvandare": {"kundnummer": f"K{rng.randrange(10**6)}", "fornamn": p.first, "efternamn": p.last,
                              "epost": p.email},
                "samtycke": {"syfte": "analys", "givet": True}, "ip_adress": p.ip, "sprak": "pl-PL"}

    def telemetry(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        return {
            "eventType": rng.choice(("app_open", "screen_view", "crash")), "clientTs": self._time(),
            "installId": p.device, "idfa": str(uuid.UUID(int=rng.getrandbits(128))),
            "pushToken": f"{rng.getrandbits(256):064x}", "accountId": p.user_id,
            "app": {"version": "8.1.0", "build": rng.randrange(1000, 2000)},
            "hardware": {"manufacturer": "Samsung", "model": "SM-S918B", "osVersion": "14"},
            "network": {"carrier": rng.choice(("Telia", "Orange")), "ipv4": p.ip, "wifi": rng.random() < 0.5},
            "location": {"lat": round(p.lat, 5), "lon": round(p.lon, 5), "accuracyM": rng.randrange(5, 50)},
            "screen": rng.choice(("home", "cart", "profile")),
            "crashLog": rng.choice((None, "NullPointerException at CartView.render line 42")),
        }


LABELS: dict[str, dict[str, str | None]] = {
    "checkout": {
        "checkoutId": None, "placedAt": None, "buyerAccountId": "identifier.customer",
        "contact.emailAddress": "contact.email", "contact.phoneNumber": "contact.phone",
        "shipTo.recipientName": "identity.name", "shipTo.streetAddress": "contact.address",
        "shipTo.city": "contact.address", "shipTo.stateCode": "contact.address",
        "shipTo.postalCode": "contact.address", "shipTo.countryCode": None, "parties[].role": None,
        "parties[].partyId": None, "parties[].displayName": None, "cart.lineItems[].listingId": None,
        "cart.lineItems[].title": None, "cart.lineItems[].qty": None, "cart.lineItems[].unitPrice": None,
        "cart.grandTotal": "transaction.order", "promoCode": None, "giftNote": "free_text",
        "clientIp": "network.ip", "authToken": "identifier.session",
    },
    "consent": {
        "handelse_id": None, "tidpunkt": None, "anvandare.kundnummer": "identifier.customer",
        "anvandare.fornamn": "identity.name", "anvandare.efternamn": "identity.name",
        "anvandare.epost": "contact.email", "samtycke.syfte": None, "samtycke.givet": None,
        "ip_adress": "network.ip", "sprak": None,
    },
    "telemetry": {
        "eventType": None, "clientTs": None, "installId": "identifier.session", "idfa": "identifier.session",
        "pushToken": "identifier.session", "accountId": "identifier.customer", "app.version": None,
        "app.build": None, "hardware.manufacturer": "device.info", "hardware.model": "device.info",
        "hardware.osVersion": "device.info", "network.carrier": None, "network.ipv4": "network.ip",
        "network.wifi": None, "location.lat": "location.precise", "location.lon": "location.precise",
        "location.accuracyM": None, "screen": None, "crashLog": None,
    },
}


def generators(seed: int = 9) -> dict[str, Callable[[], dict[str, Any]]]:
    b = Blind(seed)
    return {"checkout": b.checkout, "consent": b.consent, "telemetry": b.telemetry}
