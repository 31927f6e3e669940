"""Synthetic shop traffic built from ``schemas/examples/``: realistic, entirely made up.

Used by ``lethe demo``, the tests and the benchmarks. Deterministic for a given seed.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST = ("Alice", "Bram", "Chioma", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas",
         "Kemal", "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomasz")
LAST = ("Andersen", "Bianchi", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
        "Ivanova", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov")
STREETS = ("Baker Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "High Street")
CITIES = (("London", "GB", "NW1 6XE"), ("Berlin", "DE", "10115"), ("Paris", "FR", "75011"),
          ("Madrid", "ES", "28013"), ("Dublin", "IE", "D02 X285"))
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
ORDER_TYPES = ("placed", "paid", "shipped", "completed")


@dataclass(frozen=True)
class Person:
    customer_id: str
    name: str
    email: str
    phone: str
    street: str
    city: str
    postcode: str
    country: str
    ip: str
    date_of_birth: str | None = None   # three in four say it; every sample customer is an adult


def load_example(topic: str, examples_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((examples_dir / f"{topic}.json").read_text(encoding="utf-8"))
    return data


class Traffic:
    def __init__(self, examples_dir: Path, subjects: int = 100, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.order_template = load_example("orders.v1", examples_dir)
        self.log_template = load_example("logs.v1", examples_dir)
        self.people = [self._person(i) for i in range(subjects)]
        self.start = datetime(2026, 11, 1, tzinfo=UTC)

    def _person(self, i: int) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country, postcode = rng.choice(CITIES)
        return Person(
            customer_id=f"cust-{100000 + i}",
            name=f"{first} {last}",
            email=f"{first}.{last}{i}@mail.example".lower(),
            phone=f"+44 7700 {rng.randrange(100000, 999999)}",
            street=f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
            city=city, postcode=postcode, country=country,
            ip=f"198.51.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}",
            date_of_birth=self._date_of_birth(i),
        )

    def _date_of_birth(self, i: int) -> str | None:
        """Drawn apart from the main sequence (which every other value of the traffic follows): born
        1950 to 2000, so at least 25 on the traffic's dates; a quarter of the customers do not say."""
        rng = random.Random(f"{self.seed}:date_of_birth:{i}")
        if rng.random() < 0.25:
            return None
        born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(0, 51 * 365))
        return born.date().isoformat()

    def _time(self) -> str:
        return (self.start + timedelta(seconds=self.rng.randrange(0, 30 * 86400))).isoformat()

    def order(self, person: Person | None = None) -> dict[str, Any]:
        p = person or self.rng.choice(self.people)
        event = copy.deepcopy(self.order_template)
        event.update(
            event_id=str(uuid.UUID(int=self.rng.getrandbits(128))),
            event_type=self.rng.choice(ORDER_TYPES),
            occurred_at=self._time(),
            order_id=f"ORD-{self.rng.randrange(10**6, 10**7)}",
            customer_id=p.customer_id,
            customer={"name": p.name, "email": p.email, "phone": p.phone, "date_of_birth": p.date_of_birth},
            shipping_address={"street": p.street, "city": p.city, "postcode": p.postcode,
                              "region": None, "country": p.country},
            notes=self.rng.choice((
                None,
                f"Leave with neighbour, call {p.phone}",
                f"Gift for {p.name.split()[0]}, invoice to {p.email}",
                "Ring twice please",
                f"Deliver to {p.street} back door",
            )),
        )
        return event

    def log(self, person: Person | None = None, anonymous: bool = False) -> dict[str, Any]:
        p = person or self.rng.choice(self.people)
        event = copy.deepcopy(self.log_template)
        event.update(
            event_id=str(uuid.UUID(int=self.rng.getrandbits(128))),
            occurred_at=self._time(),
            kind=self.rng.choice(("page_view", "click", "api_call")),
            customer_id=None if anonymous else p.customer_id,
            session_id=f"sess-{self.rng.getrandbits(40):010x}",
            ip=p.ip,
            user_agent=self.rng.choice(AGENTS),
            url=self.rng.choice((
                "https://shop.example.com/products/kettle",
                f"https://shop.example.com/account?email={p.email.replace('@', '%40')}",
                f"https://shop.example.com/track?phone={p.phone.replace(' ', '')}",
            )),
            referrer=self.rng.choice((None, "https://search.example.org/?q=kettle")),
            click_target=self.rng.choice((None, "button#checkout", f"a[href='mailto:{p.email}']")),
            geo={"lat": 51.5 + self.rng.random(), "lon": -0.1 + self.rng.random(), "city": p.city,
                 "country": p.country, "source": "device"},
        )
        return event

    def stream(self, count: int, log_share: float = 0.5) -> Iterator[tuple[str, dict[str, Any]]]:
        for _ in range(count):
            if self.rng.random() < log_share:
                yield "logs.v1", self.log(anonymous=self.rng.random() < 0.1)
            else:
                yield "orders.v1", self.order()


def malformed_records() -> list[tuple[str, bytes]]:
    """One record per failure class the DLQ must catch; the label says which."""
    return [
        ("truncated JSON", b'{"event_id": "e1", "event_type": "pla'),
        ("wrong type", json.dumps({"event_id": 42}).encode()),
        ("missing fields", b'{"event_id": "e2"}'),
        ("non-UTF-8 bytes", b'{"event_id": "\xff\xfe"}'),
        ("5 MB string", json.dumps({"event_id": "x" * 5_000_000}).encode()),
        ("nesting 10,000 deep", b"[" * 10_000 + b"]" * 10_000),
        ("not an object", b"[1, 2, 3]"),
        ("empty value", b""),
    ]


def invalid_enum(traffic: Traffic) -> bytes:
    """A complete order whose event_type is not a symbol of the enum."""
    order = traffic.order()
    order["event_type"] = "teleported"
    return json.dumps(order).encode()
