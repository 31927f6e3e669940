"""Events built from schemas/examples/ but carrying personal values no code has seen before."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LeakyTraffic:
    examples: Path
    seed: int = 1
    secrets: set[str] = field(default_factory=set)   # every personal value handed out

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.order_t = json.loads((self.examples / "orders.v1.json").read_text())
        self.log_t = json.loads((self.examples / "logs.v1.json").read_text())

    def _remember(self, *values: str) -> None:
        self.secrets.update(v for v in values if v)

    def person(self, n: int) -> dict[str, str]:
        r = self.rng
        given = r.choice(["Zofia", "Wojciech", "Aurélie", "Þórunn", "Kwame", "Saoirse"])
        family = r.choice(["Wiśniewska", "Grzybowski", "Lemaître", "Ólafsdóttir", "Mensah", "Ní Bhriain"])
        person = {
            "customer_id": f"zq-{r.getrandbits(48):012x}",
            "name": f"{given} {family}",
            "given": given,
            "family": family,
            "email": f"{given.lower()}.{n}{r.getrandbits(20)}@quux-{n}.example",
            "phone": f"+48 6{r.randrange(10, 99)} {r.randrange(100, 999)} {r.randrange(100, 999)}",
            "street": f"{r.randrange(2, 300)} Quarrington Road",
            "city": r.choice(["Szczebrzeszyn", "Llanfairpwll", "Kirkjubæjarklaustur"]),
            "postcode": f"{r.randrange(10, 99)}-{r.randrange(100, 999)}",
            "region": r.choice(["Podkarpackie", "Suðurland", "Gwynedd"]),
            "ip": f"192.0.2.{r.randrange(2, 254)}",
            "ip6": f"2001:db8:{r.getrandbits(16):x}:{r.getrandbits(16):x}::{r.getrandbits(16):x}",
            "session": f"s-{r.getrandbits(64):016x}",
            "order": f"Q-{r.getrandbits(40):010x}",
            "card": "4539 1488 0343 6467",
            "iban": "DE89 3704 0044 0532 0130 00",
        }
        self._remember(person["customer_id"], person["name"], person["email"], person["phone"],
                       person["street"], person["ip"], person["ip6"], person["session"], person["order"],
                       person["card"], person["iban"], person["family"], person["city"], person["postcode"],
                       person["region"])
        return person

    def order(self, p: dict[str, str]) -> dict[str, Any]:
        event = copy.deepcopy(self.order_t)
        event.update(
            event_id=f"ev-{self.rng.getrandbits(64):016x}", customer_id=p["customer_id"], order_id=p["order"],
            customer={"name": p["name"], "email": p["email"], "phone": p["phone"]},
            shipping_address={"street": p["street"], "city": p["city"], "postcode": p["postcode"],
                              "region": p["region"], "country": "PL"},
            notes=f"{p['given']} {p['family']} asks: call {p['phone']}, pay by card {p['card']} or IBAN "
                  f"{p['iban']}, ship to {p['street']}, {p['city']}; mail {p['email']}",
        )
        return event

    def log(self, p: dict[str, str], anonymous: bool = False, v6: bool = False) -> dict[str, Any]:
        lat = round(50 + self.rng.random(), 6)
        lon = round(19 + self.rng.random(), 6)
        self._remember(str(lat), str(lon))
        event = copy.deepcopy(self.log_t)
        event.update(
            event_id=f"ev-{self.rng.getrandbits(64):016x}",
            customer_id=None if anonymous else p["customer_id"], session_id=p["session"],
            ip=p["ip6"] if v6 else p["ip"],
            url=f"https://shop.example.com/u/{p['customer_id']}/orders?mail={p['email'].replace('@', '%40')}",
            referrer=f"https://mail.example.net/?to={p['email']}&tel={p['phone'].replace(' ', '')}",
            click_target=f"a[href='mailto:{p['email']}']",
            geo={"lat": lat, "lon": lon, "city": p["city"], "country": "PL", "source": "device"},
        )
        return event


def leaks(blob: bytes, secrets: set[str]) -> list[str]:
    """The personal values that appear in ``blob`` (compared case-insensitively)."""
    text = blob.decode("utf-8", errors="replace").lower()
    return sorted(s for s in secrets if s.lower() in text)
