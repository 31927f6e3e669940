"""The sample of a user's own topic the README's "Your own topics" walk-through discovers: ``loyalty.v1``.

``schemas/examples/your-own/loyalty.v1.jsonl`` is ``lines()``, 50 made-up events of a loyalty
programme in a shape unlike Lethe's own topics: German (and a Spanish) field names, the member
nested with an address inside, an array of visits, a device id and free text that repeats the
member's phone, e-mail or street. Regenerate it with ``PYTHONPATH=. python tests/loyalty.py``.
``personal_values`` lists what a reviewer would label personal in an event, for leak checks.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parent.parent / "schemas" / "examples" / "your-own" / "loyalty.v1.jsonl"

VORNAMEN = ["Jürgen", "Lena", "Óscar", "Mateo", "Sofía", "Anneliese", "Björn", "Carmen", "Dieter", "Inés",
            "Katrin", "Lucía", "Maximilian", "Nuria", "Ralf", "Elif", "Tobias", "Pilar", "Uwe", "Zoe"]
NACHNAMEN = ["Weber", "Schäfer", "García Ruiz", "Fernández", "Hoffmann", "Krüger", "López", "Martín",
             "Neumann", "Ortega", "Richter", "Sánchez", "Vogel", "Zimmermann", "Yilmaz", "Bauer"]
STRASSEN = [("Hauptstraße", "Berlin", "10115", "DE"), ("Calle Mayor", "Madrid", "28013", "ES"),
            ("Lindenallee", "Hamburg", "20259", "DE"), ("Avenida de la Constitución", "Sevilla", "41004", "ES"),
            ("Schillerstraße", "München", "80336", "DE"), ("Carrer de Mallorca", "Barcelona", "08036", "ES"),
            ("Goethestraße", "Köln", "50667", "DE"), ("Rua Augusta", "Lisboa", "1100-053", "PT")]
FILIALEN = ["berlin-mitte", "madrid-sol", "hamburg-altona", "sevilla-centro", "muenchen-ost", "online"]
STUFEN = ["bronze", "silber", "gold", "platin"]
KOMMENTARE = [
    "Kundin bittet um Rückruf unter {telefon}.",
    "Bitte Gutschein an {correo} senden, danke!",
    "Neue Adresse ab Januar: {strasse} {nr}, {plz} {ort}.",
    "Punkte fehlen seit dem letzten Einkauf.",
    "Llamar por la tarde, prefiere español.",
    "",
    "Karte verloren, Ersatz an {strasse} {nr} schicken.",
    "Escribir a {correo} para la promoción.",
]
_ASCII = str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "é": "e", "í": "i", "ó": "o", "á": "a",
                        "ñ": "n", "Ó": "O", " ": "."})


def _members(rng: random.Random) -> list[dict[str, Any]]:
    members = []
    for i in range(20):
        vor, nach = rng.choice(VORNAMEN), rng.choice(NACHNAMEN)
        strasse, ort, plz, land = rng.choice(STRASSEN)
        domain = {"DE": "example.de", "ES": "example.es"}.get(land, "example.pt")
        telefon = (f"+49 {rng.randint(151, 179)} {rng.randint(1000000, 9999999)}" if land == "DE"
                   else f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}" if land == "ES"
                   else f"+351 9{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}")
        members.append({
            "mitgliedsnummer": f"LM-{400100 + i * 37}",
            "vorname": vor, "nachname": nach,
            "correo": f"{vor.translate(_ASCII).lower()}.{nach.split()[0].translate(_ASCII).lower()}"
                      f"{rng.randint(1, 99)}@{domain}",
            "telefon": telefon,
            "anschrift": {"strasse": strasse, "hausnummer": str(rng.randint(1, 120)), "plz": plz, "ort": ort,
                          "land": land},
            "stufe": rng.choice(STUFEN),
            "geraet": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        })
    return members


def lines(seed: int = 11, count: int = 50) -> list[str]:
    """The sample's JSON lines (deterministic for a seed)."""
    rng = random.Random(seed)
    members = _members(rng)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    out = []
    for n in range(count):
        member = members[n % len(members)] if n < len(members) else rng.choice(members)
        when = start + timedelta(minutes=rng.randint(0, 60 * 24 * 25))
        besuche = []
        for _ in range(rng.randint(1, 3)):
            amount = round(rng.uniform(3, 180), 2)
            zeit = when - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))
            besuche.append({"filiale": rng.choice(FILIALEN), "zeit": zeit.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "betrag": amount, "waehrung": "EUR", "punkte": int(amount)})
        address = member["anschrift"]
        kommentar = rng.choice(KOMMENTARE).format(telefon=member["telefon"], correo=member["correo"],
                                                  strasse=address["strasse"], nr=address["hausnummer"],
                                                  plz=address["plz"], ort=address["ort"])
        event = {
            "ereignis_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "ereignis": rng.choice(["punkte_gutgeschrieben", "punkte_eingeloest", "stufe_geaendert"]),
            "zeitpunkt": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mitglied": {k: (dict(v) if isinstance(v, dict) else v) for k, v in member.items() if k != "geraet"},
            "geraet_id": member["geraet"],
            "besuche": besuche,
            "punktestand": rng.randint(0, 25000),
            "kommentar": kommentar,
        }
        out.append(json.dumps(event, ensure_ascii=False))
    return out


def personal_values(event: dict[str, Any]) -> set[str]:
    """Every labelled personal value of a sample event (what a reviewer would tag), as it is written
    and, for a phone number, without its spaces."""
    member, address = event["mitglied"], event["mitglied"]["anschrift"]
    return {member["mitgliedsnummer"], member["vorname"], member["nachname"], member["correo"],
            member["telefon"], member["telefon"].replace(" ", ""), event["geraet_id"],
            address["strasse"], f"{address['strasse']} {address['hausnummer']}", address["plz"], address["ort"]}


def leaked(values: set[str], *texts: str) -> list[str]:
    """The values found in the texts as whole tokens. A postal code such as ``50667`` also turns up
    inside a hex pseudonym, a millisecond timestamp or a free port, so a value only counts where no
    letter or digit touches it, and a value of digits only not where a port would be (after ``:``)."""
    found = []
    for value in values:
        before = r"(?<![\w:])" if value.isdigit() else r"(?<!\w)"
        pattern = re.compile(before + re.escape(value) + r"(?!\w)")
        if any(pattern.search(text) for text in texts):
            found.append(value)
    return sorted(found)


if __name__ == "__main__":
    SAMPLE.write_text("\n".join(lines()) + "\n", encoding="utf-8")
