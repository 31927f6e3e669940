"""A second labelled set for ``bench/discover_score.py --set heldout``: shapes written after the
classifiers were tuned on bench/discover_data.py (rides in camelCase with Italian text, Dutch
appointments, e-mail campaign events with maps keyed by IP and by attribute), to see how far the
first set's figures carry."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.discover_data import Person


class Heldout:
    def __init__(self, seed: int = 5, people: int = 60) -> None:
        self.rng = random.Random(seed)
        self.people = [Person(self.rng, n) for n in range(people)]
        self.start = datetime(2026, 8, 1, tzinfo=UTC)

    def _time(self) -> str:
        return (self.start + timedelta(seconds=self.rng.randrange(5_000_000))).isoformat()

    def ride(self) -> dict[str, Any]:
        p, d, rng = self.rng.choice(self.people), self.rng.choice(self.people), self.rng
        return {
            "tripRef": f"TR{rng.randrange(10**8, 10**9)}", "requestedAt": self._time(),
            "rider": {"riderId": p.user_id, "displayName": p.first.lower() + str(rng.randrange(99)),
                      "fullName": p.name, "mobileNo": p.phone, "emailAddr": p.email},
            "driver": {"driverId": f"drv-{rng.randrange(10**4)}", "name": d.name},
            "pickup": {"lat": round(p.lat, 6), "lng": round(p.lon, 6), "addressText": f"{p.street}, {p.city}"},
            "fare": {"amount": round(rng.uniform(4, 60), 2), "currency": "EUR"},
            "payment": {"cardToken": f"tok_{rng.getrandbits(80):020x}", "brand": rng.choice(("visa", "mc"))},
            "rating": rng.randrange(1, 6),
            "comment": rng.choice((None, f"Autista gentilissimo, mi ha chiamato al {p.phone}",
                                   "Macchina pulita, tutto ok grazie mille")),
            "appVersion": rng.choice(("5.2.1", "5.3.0")),
            "deviceInfo": {"os": rng.choice(("iOS 17", "Android 14")), "model": rng.choice(("iPhone 15", "Pixel 8")),
                           "pushToken": f"{rng.getrandbits(128):032x}"},
        }

    def appointment(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        return {
            "afspraak_id": str(uuid.UUID(int=rng.getrandbits(128))), "tijdstip": self._time(),
            "patient": {"patientnummer": f"P{rng.randrange(10**6, 10**7)}", "voornaam": p.first,
                        "achternaam": p.last, "geboortedatum": p.birth, "bsn": f"{rng.randrange(10**8, 10**9)}",
                        "adres": {"straat": p.street, "huisnummer": str(rng.randrange(1, 200)),
                                  "postcode": p.postcode, "woonplaats": p.city}},
            "arts": {"naam": rng.choice(("Dr. Jan de Boer", "Dr. Anna Visser")),
                     "specialisme": rng.choice(("huisarts", "cardiologie"))},
            "opmerkingen": rng.choice((None, f"Patiënt belt terug op {p.phone}", "Graag nuchter komen")),
        }

    def campaign(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        return {
            "messageId": str(uuid.UUID(int=rng.getrandbits(128))), "sentAt": self._time(),
            "recipient": {"emailAddress": p.email, "firstName": p.first},
            "campaign": {"id": f"cmp-{rng.randrange(20)}", "name": rng.choice(("Winter sale", "Newsletter 12"))},
            "opens": {p.ip: rng.randrange(1, 4)},
            "clicks": [{"link": f"https://shop.example.com/p/{rng.randrange(99)}?uid={p.user_id}", "at": self._time()}
                       for _ in range(rng.randrange(0, 3))],
            "attributes": {f"attr_{rng.randrange(60)}": rng.choice(("a", "b", "c")) for _ in range(3)},
        }


LABELS: dict[str, dict[str, str | None]] = {
    "rides": {
        "tripRef": "transaction.order", "requestedAt": None, "rider.riderId": "identifier.customer",
        "rider.displayName": "account.profile", "rider.fullName": "identity.name", "rider.mobileNo": "contact.phone",
        "rider.emailAddr": "contact.email", "driver.driverId": "identifier.customer", "driver.name": "identity.name",
        "pickup.lat": "location.precise", "pickup.lng": "location.precise", "pickup.addressText": "contact.address",
        "fare.amount": "transaction.order", "fare.currency": None, "payment.cardToken": "transaction.payment",
        "payment.brand": "transaction.payment", "rating": None, "comment": "free_text", "appVersion": "device.info",
        "deviceInfo.os": "device.info", "deviceInfo.model": "device.info", "deviceInfo.pushToken": "identifier.session",
    },
    "appointments": {
        "afspraak_id": None, "tijdstip": None, "patient.patientnummer": "identifier.customer",
        "patient.voornaam": "identity.name", "patient.achternaam": "identity.name",
        "patient.geboortedatum": "identity.dob", "patient.bsn": "account.profile",
        "patient.adres.straat": "contact.address", "patient.adres.huisnummer": "contact.address",
        "patient.adres.postcode": "contact.address", "patient.adres.woonplaats": "contact.address",
        "arts.naam": "identity.name", "arts.specialisme": None, "opmerkingen": "free_text",
    },
    "campaigns": {
        "messageId": None, "sentAt": None, "recipient.emailAddress": "contact.email",
        "recipient.firstName": "identity.name", "campaign.id": None, "campaign.name": None,
        "opens": "network.ip", "clicks[].link": "behavior.browsing", "clicks[].at": None, "attributes": None,
    },
}


def generators(seed: int = 5) -> dict[str, Callable[[], dict[str, Any]]]:
    h = Heldout(seed)
    return {"rides": h.ride, "appointments": h.appointment, "campaigns": h.campaign}
