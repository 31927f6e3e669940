"""A labelled corpus of order notes in seven languages, for measuring the free-text detectors.

``corpus(n, seed)`` returns ``n`` notes, each with the spans a perfect detector would find, by
data category. About one note in three holds nothing personal but does hold what detectors
are prone to fire on (order ids, totals, dates, SKUs, event ids, product and place names): the
precision side. Names are third persons (a neighbour, a gift's recipient), never the customer's
own, since the record's own values are removed by another pass (``redact_context``).

Deterministic for a given seed; no network, no data files: every value is made up here.
"""

from __future__ import annotations

import base64
import random
import re
import string
import uuid
from dataclasses import dataclass
from urllib.parse import quote

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl")


@dataclass(frozen=True)
class Note:
    language: str
    text: str
    labels: tuple[tuple[int, int, str], ...]   # (start, end, category)


GIVEN = {
    "en": ["Oliver", "Emma", "Jack", "Sophie", "Harry", "Chloe", "George", "Megan", "Liam", "Grace"],
    "de": ["Jürgen", "Sabine", "Lukas", "Anna", "Matthias", "Katrin", "Felix", "Ute", "Jonas", "Heike"],
    "fr": ["Camille", "Louis", "Chloé", "Hugo", "Manon", "Théo", "Élodie", "Julien", "Amélie", "Mathis"],
    "es": ["Lucía", "Javier", "Carmen", "Alejandro", "Sofía", "Diego", "Marta", "Pablo", "Elena", "Sergio"],
    "it": ["Giulia", "Francesco", "Chiara", "Matteo", "Alessia", "Lorenzo", "Federica", "Davide", "Sara", "Marco"],
    "nl": ["Daan", "Sanne", "Bram", "Fleur", "Joris", "Lieke", "Sem", "Femke", "Thijs", "Noor"],
    "pl": ["Katarzyna", "Piotr", "Agnieszka", "Tomasz", "Magdalena", "Krzysztof", "Zofia", "Paweł", "Ewa", "Michał"],
}
SURNAMES = {
    "en": ["Thompson", "Walker", "Hughes", "Clarke", "Patel", "Wright", "Evans", "Turner", "Hall", "Price"],
    "de": ["Müller", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Schäfer", "Koch", "Richter", "Wolf"],
    "fr": ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Girard", "Roux", "Fournier", "Lefèvre", "Mercier"],
    "es": ["García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres", "Ruiz", "Molina"],
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"],
    "nl": ["de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder"],
    "pl": ["Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Zieliński", "Szymańska",
           "Woźniak", "Dąbrowski"],
}
STREET_NAMES = {
    "en": ["Baker", "Church", "Victoria", "Mill", "Station", "Park", "Queen's", "Albert"],
    "de": ["Haupt", "Linden", "Garten", "Schiller", "Goethe", "Bahnhof", "Berg", "Kirch"],
    "fr": ["de la Paix", "Victor Hugo", "des Lilas", "du Général Leclerc", "Jean Jaurès", "de la République"],
    "es": ["Mayor", "de Alcalá", "del Sol", "de Gracia", "Real", "de la Constitución"],
    "it": ["Roma", "Garibaldi", "dei Mille", "Mazzini", "della Repubblica", "Cavour"],
    "nl": ["Kerk", "Dorps", "Molen", "School", "Stations", "Linden"],
    "pl": ["Marszałkowska", "Piłsudskiego", "Mickiewicza", "Długa", "Kościuszki", "Polna"],
}


# Layouts the address rule misses by design (lower case, no street word, "nº"): one address in
# five is drawn from here, so the figures do not only measure what the rule was written for.
HARD_ADDRESSES = {
    "en": ["{n} downing street", "{n} Baker St flat B", "The Old Rectory, Church Lane"],
    "de": ["Am Markt {n}", "Unter den Linden {n}", "Kurfürstendamm {n}"],
    "fr": ["{n} rue des lilas", "{n}, chemin du moulin"],
    "es": ["C/ Mayor nº {n}", "calle del sol {n}"],
    "it": ["via Roma {n}", "Corso Garibaldi {n}"],
    "nl": ["Oudegracht {n} bis", "Markt {n}"],
    "pl": ["Długa {n}", "os. Tysiąclecia {n}"],
}


def _address(rng: random.Random, lang: str) -> str:
    street = rng.choice(STREET_NAMES[lang])
    number = rng.randint(1, 240)
    if rng.random() < 0.2:
        return rng.choice(HARD_ADDRESSES[lang]).format(n=number)
    match lang:
        case "en":
            return f"{number} {street} {rng.choice(['Street', 'Road', 'Lane', 'Avenue', 'Close'])}"
        case "de":
            return f"{street}{rng.choice(['straße', 'weg', 'str.', 'allee'])} {number}{rng.choice(['', 'a'])}"
        case "fr":
            return f"{number}{rng.choice(['', ' bis'])} {rng.choice(['rue', 'avenue', 'boulevard'])} {street}"
        case "es":
            return f"{rng.choice(['Calle', 'Avenida', 'Paseo'])} {street}, {number}"
        case "it":
            return f"{rng.choice(['Via', 'Viale', 'Piazza'])} {street} {number}"
        case "nl":
            return f"{street}{rng.choice(['straat', 'weg', 'laan'])} {number}{rng.choice(['', '-II', 'b'])}"
        case _:
            return f"ul. {street} {number}{rng.choice(['', '/4', ' m. 12'])}"


def _phone(rng: random.Random, lang: str) -> str:
    d = lambda k: "".join(rng.choice(string.digits) for _ in range(k))  # noqa: E731
    formats = {
        "en": [f"07{d(3)} {d(6)}", f"+44 20 {d(4)} {d(4)}",
               f"({rng.randint(201, 989)}) {rng.randint(201, 989)}-{d(4)}"],
        "de": [f"0{rng.randint(30, 89)} {d(7)}", f"+49 151 {d(8)}", f"0{rng.randint(151, 179)}/{d(7)}"],
        "fr": [f"0{rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}", f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}"],
        "es": [f"6{d(2)} {d(3)} {d(3)}", f"+34 91 {d(3)} {d(2)} {d(2)}"],
        "it": [f"3{d(2)} {d(3)} {d(4)}", f"+39 06 {d(4)} {d(4)}"],
        "nl": [f"06-{d(8)}", f"+31 6 {d(8)}", f"020 {d(3)} {d(4)}"],
        "pl": [f"{rng.randint(500, 889)} {d(3)} {d(3)}", f"+48 22 {d(3)} {d(2)} {d(2)}"],
    }
    return rng.choice(formats[lang])


def _email(rng: random.Random, lang: str) -> str:
    given = rng.choice(GIVEN[lang]).lower()
    ascii_given = given.encode("ascii", "ignore").decode() or "x"
    return f"{ascii_given}.{rng.randint(1, 99)}@{rng.choice(['example.com', 'mail.example.org', 'example.net'])}"


def _token(rng: random.Random) -> str:
    def segment(k: int) -> str:
        return encode(rng.randbytes(k))

    def encode(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    header = encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = encode(f'{{"sub":"{rng.getrandbits(48):x}","exp":{rng.randint(1_700_000_000, 1_800_000_000)}}}'.encode())
    return rng.choice([f"{header}.{payload}.{segment(32)}", rng.randbytes(20).hex(), f"Bearer {segment(24)}"])


# Per language: templates with slots {name} (a full third-person name), {given}, {address},
# {phone}, {email}, {token}, {url_email} (a percent-encoded email inside a URL), {flat}.
# "{name}, {phone}" has no phone word: national numbers without trunk 0 are missed there.
PERSONAL = {
    "en": ["Leave it with {name} next door", "Happy birthday {given}! Love from all of us",
           "Deliver to {address}, side gate", "If out, call {phone}", "Invoice to {email} please",
           "Gift for {name}, do not include the receipt", "Ask for {given} at reception, tel {phone}",
           "Send the code to {email} and ring {phone}", "{name} {phone}", "{flat}, {address}",
           "My session {token} expired", "Login link https://shop.example.com/login?t={token} failed",
           "Link: https://shop.example.com/track?email={url_email}&step=2"],
    "de": ["Bitte bei {name} nebenan abgeben", "Alles Gute zum Geburtstag, {given}!",
           "Lieferung an {address}, Hinterhaus", "Bei Rückfragen {phone} anrufen",
           "Rechnung an {email}", "Geschenk für {name}", "Nachbarin {given} nimmt das Paket, Tel. {phone}",
           "{flat}, {address}", "{name}, {phone}"],
    "fr": ["Laisser le colis chez {name}, voisin du dessus", "Joyeux anniversaire {given} !",
           "Livrer au {address}, code 4521", "En cas d'absence appeler le {phone}", "Facture à {email}",
           "Cadeau pour {name}", "Demander {given} à l'accueil, tél. {phone}", "{name}, {phone}"],
    "es": ["Dejar el paquete con {name}, el vecino", "¡Feliz cumpleaños, {given}!",
           "Entregar en {address}, 2º B", "Si no estoy, llamar al {phone}", "Factura a {email}",
           "Regalo para {name}", "Preguntar por {given}, móvil {phone}", "{name}, {phone}"],
    "it": ["Lasciare il pacco a {name}, la vicina", "Buon compleanno {given}!",
           "Consegnare in {address}, citofono 3", "Se assente chiamare il {phone}", "Fattura a {email}",
           "Regalo per {name}", "Chiedere di {given}, cellulare {phone}", "{name}, {phone}"],
    "nl": ["Graag afgeven bij {name} hiernaast", "Gefeliciteerd {given}!", "Bezorgen op {address}",
           "Bij afwezigheid bellen naar {phone}", "Factuur naar {email}", "Cadeau voor {name}", "{name}, {phone}"],
    "pl": ["Proszę zostawić u sąsiadki {name}", "Wszystkiego najlepszego, {given}!", "Dostawa na {address}",
           "W razie nieobecności zadzwoń {phone}", "Faktura na {email}", "Prezent dla {name}", "{name}, {phone}"],
}
NEGATIVE = [
    "Order {order} total {total} EUR", "Please deliver after 18:30 on {date}", "Same as order {order}",
    "Size 42, colour blue, SKU {sku}", "Replacement for event {uuid}", "Samsung Galaxy S23 Ultra 256 GB, case included",
    "Route 66 mug and Via Lattea lamp", "Paris Saint-Germain home shirt, size M", "Shipped from Berlin to Amsterdam",
    "Ring twice please", "Gift wrap, no invoice in the parcel", "Bitte nicht knicken", "Merci, à bientôt",
    "Entregar por la tarde", "Consegna al piano terra", "Graag voor 12 uur", "Proszę dzwonić domofonem",
    "Invoice number INV-{year}-{small} paid {total} EUR", "Tracking 1Z{sku} via UPS", "Discount code SUMMER{small}",
    "Version 2.4.1 of the app, build {small}", "Amazon Basics HDMI cable 2 m", "Nike Air Max 90 size 44",
    "Apple iPhone 15 Pro, order placed {date} 09:15", "Call of Duty voucher", "Mercedes-Benz key ring",
    "IKEA Billy bookcase 80x28x202 cm", "Coca-Cola Zero 24 x 330 ml", "Ref {uuid} retry {small}",
    # brands, products and places right after the words that introduce a person elsewhere
    "Gift wrap for Nike Air Max 90", "Replacement key for Mercedes Sprinter", "Ersatzteil für Billy Regal",
    "Livraison pour Paris Nord, quai 3", "Funda para Samsung Galaxy A54", "Cover per Victoria Beckham borsa",
    "Hoes voor Max Verstappen pet", "Etui dla Xiaomi Redmi 12", "Shipped with Royal Mail Tracked 48",
    "Case for Apple Watch Series 9", "Bei Rossmann abholen", "Regalo con Rosa Mosqueta crema",
]


def _negative(rng: random.Random) -> str:
    values = {
        "order": f"ORD-{rng.randint(10**6, 10**7 - 1)}", "total": f"{rng.randint(5, 2500)}.{rng.randint(0, 99):02d}",
        "date": f"{rng.randint(2024, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "sku": str(rng.randint(10**11, 10**13)), "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "year": str(rng.randint(2024, 2026)), "small": str(rng.randint(10, 9999)),
    }
    return rng.choice(NEGATIVE).format(**values)


_SLOT = re.compile(r"\{(\w+)\}")
CATEGORY = {"name": "identity.name", "given": "identity.name", "address": "contact.address",
            "phone": "contact.phone", "email": "contact.email", "url_email": "contact.email",
            "token": "identifier.session", "flat": "contact.address"}


def _fill(rng: random.Random, lang: str, template: str) -> Note:
    parts: list[str] = []
    labels: list[tuple[int, int, str]] = []
    position = 0
    length = 0
    for slot in _SLOT.finditer(template):
        literal = template[position : slot.start()]
        parts.append(literal)
        length += len(literal)
        kind = slot.group(1)
        value = {
            "name": lambda: f"{rng.choice(GIVEN[lang])} {rng.choice(SURNAMES[lang])}",
            "given": lambda: rng.choice(GIVEN[lang]),
            "address": lambda: _address(rng, lang),
            "phone": lambda: _phone(rng, lang),
            "email": lambda: _email(rng, lang),
            "url_email": lambda: quote(_email(rng, lang), safe=""),
            "token": lambda: _token(rng),
            "flat": lambda: f"{rng.choice(['Flat', 'Apt', 'Wohnung'])} {rng.randint(1, 30)}",
        }[kind]()
        parts.append(value)
        labels.append((length, length + len(value), CATEGORY[kind]))
        length += len(value)
        position = slot.end()
    parts.append(template[position:])
    return Note(lang, "".join(parts), tuple(labels))


def corpus(n: int = 3000, seed: int = 7) -> list[Note]:
    rng = random.Random(seed)
    notes = []
    for _ in range(n):
        lang = rng.choice(LANGUAGES)
        if rng.random() < 1 / 3:
            notes.append(Note(lang, _negative(rng), ()))
        else:
            notes.append(_fill(rng, lang, rng.choice(PERSONAL[lang])))
    return notes
