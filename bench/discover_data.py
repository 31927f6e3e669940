"""Labelled synthetic topics for scoring ``lethe discover``, in shapes unlike Lethe's own topics.

Four topics, seven locales: loyalty events (Spanish field names), support tickets (German), consent
events (camelCase, English), web access logs (nested request/response/client) and shop orders
(French). Each generator returns a record; ``LABELS[topic]`` gives every leaf field path its data
category (None = not personal), as a privacy reviewer would label it with Lethe's categories.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

LOCALES = {
    "en-US": (("James", "Mary", "Robert"), ("Smith", "Johnson", "Brown"), ("Austin", "Denver", "Boston"),
              "+1 512 555 {0:04d}", "{n} Oak Street", "7870{d}", "US"),
    "en-GB": (("Oliver", "Amelia", "Harry"), ("Taylor", "Davies", "Evans"), ("Leeds", "Bristol", "York"),
              "+44 7700 9{0:05d}", "{n} Mill Road", "LS1 {d}AB", "GB"),
    "de-DE": (("Lukas", "Lena", "Jonas"), ("Müller", "Schmidt", "Weber"), ("Berlin", "München", "Köln"),
              "+49 30 12{0:05d}", "Hauptstraße {n}", "1011{d}", "DE"),
    "fr-FR": (("Léa", "Hugo", "Chloé"), ("Martin", "Bernard", "Dubois"), ("Paris", "Lyon", "Nantes"),
              "+33 6 12 34 {0:04d}", "{n} rue de la Paix", "7500{d}", "FR"),
    "es-ES": (("Lucía", "Hugo", "Martina"), ("García", "Fernández", "López"), ("Madrid", "Sevilla", "Valencia"),
              "+34 612 3{0:05d}", "Calle Mayor {n}", "2801{d}", "ES"),
    "it-IT": (("Giulia", "Leonardo", "Sofia"), ("Rossi", "Russo", "Ferrari"), ("Roma", "Milano", "Torino"),
              "+39 312 45{0:05d}", "Via Roma {n}", "0018{d}", "IT"),
    "nl-NL": (("Daan", "Emma", "Sem"), ("de Jong", "Jansen", "de Vries"), ("Utrecht", "Leiden", "Delft"),
              "+31 6 123{0:05d}", "Kalverstraat {n}", "101{d} AB", "NL"),
}
AGENTS = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari",
          "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0")
NOTES = {"en": "Hi, my parcel {n} never arrived, please call me on {phone} or write to {email}",
         "de": "Hallo, mein Paket {n} ist nicht angekommen, bitte rufen Sie mich unter {phone} an",
         "fr": "Bonjour, ma commande {n} est en retard, merci de m'écrire à {email}",
         "es": "Hola, el pedido {n} llegó roto, vivo en {street}, llámenme al {phone}",
         "it": "Buongiorno, il pacco {n} non è arrivato, scrivetemi a {email}",
         "nl": "Hallo, pakket {n} is niet bezorgd, bel me op {phone}"}


class Person:
    def __init__(self, rng: random.Random, n: int) -> None:
        self.locale = rng.choice(list(LOCALES))
        firsts, lasts, cities, phone, street, postcode, country = LOCALES[self.locale]
        self.first, self.last, self.city = rng.choice(firsts), rng.choice(lasts), rng.choice(cities)
        self.name = f"{self.first} {self.last}"
        self.email = f"{self.first}.{self.last}{n}@mail.example".lower().replace(" ", "")
        self.phone = phone.format(rng.randrange(10000))
        self.street = street.format(n=rng.randrange(1, 180))
        self.postcode = postcode.format(d=rng.randrange(10))
        self.country = country
        self.ip = f"203.0.{rng.randrange(113, 114)}.{rng.randrange(1, 255)}"
        self.user_id = f"usr_{rng.getrandbits(48):012x}"
        self.birth = f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}"
        self.device = str(uuid.UUID(int=rng.getrandbits(128)))
        self.lat, self.lon = 40 + rng.random() * 12, -3 + rng.random() * 16


class Generator:
    def __init__(self, seed: int = 3, people: int = 60) -> None:
        self.rng = random.Random(seed)
        self.people = [Person(self.rng, n) for n in range(people)]
        self.start = datetime(2026, 9, 1, tzinfo=UTC)

    def _time(self) -> str:
        return (self.start + timedelta(seconds=self.rng.randrange(5_000_000))).isoformat().replace("+00:00", "Z")

    def _note(self, p: Person) -> str:
        return NOTES[p.locale[:2]].format(n=self.rng.randrange(1000), phone=p.phone, email=p.email, street=p.street)

    def loyalty(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        return {
            "evento_id": str(uuid.UUID(int=rng.getrandbits(128))), "tipo": rng.choice(("puntos", "canje", "alta")),
            "fecha": self._time(),
            "socio": {"id_socio": f"S-{rng.randrange(10**5, 10**6)}", "nombre": p.first, "apellidos": p.last,
                      "correo_electronico": p.email, "movil": p.phone, "fecha_nacimiento": p.birth,
                      "direccion": {"calle": p.street, "ciudad": p.city, "codigo_postal": p.postcode,
                                    "provincia": rng.choice(("Madrid", "Andalucía", None)), "pais": p.country}},
            "tarjeta_fidelidad": f"LC{rng.randrange(10**9, 10**10)}", "puntos": rng.randrange(0, 500),
            "tienda": {"tienda_id": f"T-{rng.randrange(1, 40)}", "nombre": rng.choice(("Centro", "Norte", "Online"))},
            "compras": [{"articulo": f"SKU-{rng.randrange(1000, 9999)}", "descripcion": rng.choice(
                ("Zapatos rojos", "Bolso de piel", "Camiseta")), "precio": round(rng.uniform(5, 90), 2),
                "cantidad": rng.randrange(1, 4)} for _ in range(rng.randrange(0, 4))],
            "importe_total": round(rng.uniform(5, 300), 2), "moneda": "EUR", "canal": rng.choice(("app", "tienda")),
            "dispositivo": {"device_id": p.device, "modelo": rng.choice(("Pixel 8", "iPhone 15")),
                            "sistema": rng.choice(("Android 14", "iOS 17"))},
            "ip_cliente": p.ip,
        }

    def ticket(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        return {
            "ticket_id": f"TCK-{rng.randrange(10**6, 10**7)}", "erstellt_am": self._time(),
            "status": rng.choice(("offen", "geschlossen", "wartend")), "kanal": rng.choice(("email", "chat")),
            "kunde": {"kundennummer": f"K{rng.randrange(10**6, 10**7)}", "vorname": p.first, "nachname": p.last,
                      "email": p.email, "telefon": p.phone},
            "betreff": rng.choice(("Lieferung verspätet", "Rückgabe", "Rechnung falsch")),
            "nachrichten": [{"von": rng.choice(("kunde", "agent")), "text": self._note(p), "zeit": self._time()}
                            for _ in range(rng.randrange(1, 3))],
            "anhaenge": [{"dateiname": "foto.jpg", "groesse": rng.randrange(1000, 10**6)}][: rng.randrange(0, 2)],
            "tags": rng.sample(["lieferung", "dringend", "rechnung"], rng.randrange(0, 3)),
            "agent": {"agent_id": f"A-{rng.randrange(1, 30)}", "team": rng.choice(("support-de", "support-at"))},
            "bewertung": rng.randrange(1, 6),
            "bestellung": {"bestellnummer": f"B-{rng.randrange(10**6, 10**7)}",
                           "betrag": round(rng.uniform(5, 200), 2)},
        }

    def consent(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        email = p.email if rng.random() < 0.3 else "none"
        return {
            "consentId": str(uuid.UUID(int=rng.getrandbits(128))), "timestamp": self._time(),
            "userId": p.user_id if rng.random() < 0.7 else None, "anonymousId": p.device, "locale": p.locale,
            "purposes": {"analytics": rng.random() < 0.5, "marketing": rng.random() < 0.5,
                         "personalization": rng.random() < 0.5},
            "policyVersion": "2026-11-01", "source": rng.choice(("cookie_banner", "account_settings")),
            "context": {"ip": p.ip, "userAgent": rng.choice(AGENTS),
                        "page": {"url": f"https://shop.example.eu/{p.locale}/konto?email={email}",
                                 "referrer": rng.choice(("https://www.google.com/", None))}},
            "geo": {"country": p.country, "city": p.city, "latitude": round(p.lat, 5), "longitude": round(p.lon, 5)},
        }

    def weblog(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        signed_in = rng.random() < 0.6
        return {
            "ts": self._time(), "host": "shop.example.fr",
            "request": {"method": rng.choice(("GET", "POST")),
                        "path": rng.choice(("/cart", f"/account?mail={p.email}", "/p/123")),
                        "headers": {"user-agent": rng.choice(AGENTS),
                                    "referer": rng.choice(("https://www.bing.com/", "https://shop.example.fr/")),
                                    "accept-language": p.locale}},
            "response": {"status": rng.choice((200, 200, 404, 302)), "bytes": rng.randrange(200, 90000),
                         "duration_ms": round(rng.uniform(1, 400), 1)},
            "client": {"ip": p.ip, "session": f"{rng.getrandbits(64):016x}", "visitor_id": p.device},
            "user": {"id": p.user_id, "email": p.email} if signed_in else None,
            "trace_id": f"{rng.getrandbits(128):032x}",
        }

    def order(self) -> dict[str, Any]:
        p, rng = self.rng.choice(self.people), self.rng
        address = {"ligne1": p.street, "ligne2": rng.choice((None, "Bâtiment B")), "ville": p.city,
                   "code_postal": p.postcode, "pays": p.country}
        return {
            "id_commande": f"CMD-{rng.randrange(10**7, 10**8)}", "cree_le": self._time(),
            "client": {"id_client": p.user_id, "prenom": p.first, "nom": p.last, "courriel": p.email,
                       "telephone": p.phone, "date_naissance": p.birth},
            "adresse_livraison": address,
            "lignes": [{"produit_id": f"P{rng.randrange(1000)}", "libelle": "Bouilloire", "quantite": 1,
                        "prix_unitaire": round(rng.uniform(5, 90), 2)} for _ in range(rng.randrange(1, 3))],
            "montant_total": round(rng.uniform(5, 300), 2), "devise": "EUR",
            "paiement": {"moyen": rng.choice(("carte", "paypal")), "statut": rng.choice(("autorise", "refuse"))},
            "transporteur": rng.choice(("Colissimo", "Chronopost")), "numero_suivi": f"6A{rng.randrange(10**11)}",
            "message_cadeau": rng.choice((None, f"Joyeux anniversaire {p.first} !", "Bonne fête")),
            "empreinte_appareil": f"{rng.getrandbits(128):032x}",
        }


# every leaf path (items of arrays as "x[]", records' fields through "[]") and its category
LABELS: dict[str, dict[str, str | None]] = {
    "loyalty": {
        "evento_id": None, "tipo": None, "fecha": None, "socio.id_socio": "identifier.customer",
        "socio.nombre": "identity.name", "socio.apellidos": "identity.name",
        "socio.correo_electronico": "contact.email",
        "socio.movil": "contact.phone", "socio.fecha_nacimiento": "identity.dob",
        "socio.direccion.calle": "contact.address", "socio.direccion.ciudad": "contact.address",
        "socio.direccion.codigo_postal": "contact.address", "socio.direccion.provincia": "contact.address",
        "socio.direccion.pais": None, "tarjeta_fidelidad": "identifier.customer", "puntos": None,
        "tienda.tienda_id": None, "tienda.nombre": None, "compras[].articulo": None, "compras[].descripcion": None,
        "compras[].precio": None, "compras[].cantidad": None, "importe_total": "transaction.order", "moneda": None,
        "canal": None, "dispositivo.device_id": "identifier.session", "dispositivo.modelo": "device.info",
        "dispositivo.sistema": "device.info", "ip_cliente": "network.ip",
    },
    "tickets": {
        "ticket_id": None, "erstellt_am": None, "status": None, "kanal": None,
        "kunde.kundennummer": "identifier.customer", "kunde.vorname": "identity.name",
        "kunde.nachname": "identity.name",
        "kunde.email": "contact.email", "kunde.telefon": "contact.phone", "betreff": None,
        "nachrichten[].von": None, "nachrichten[].text": "free_text", "nachrichten[].zeit": None,
        "anhaenge[].dateiname": None, "anhaenge[].groesse": None, "tags[]": None, "agent.agent_id": None,
        "agent.team": None, "bewertung": None, "bestellung.bestellnummer": "transaction.order",
        "bestellung.betrag": "transaction.order",
    },
    "consent": {
        "consentId": None, "timestamp": None, "userId": "identifier.customer", "anonymousId": "identifier.session",
        "locale": None, "purposes.analytics": None, "purposes.marketing": None, "purposes.personalization": None,
        "policyVersion": None, "source": None, "context.ip": "network.ip", "context.userAgent": "device.info",
        "context.page.url": "behavior.browsing", "context.page.referrer": "behavior.browsing", "geo.country": None,
        "geo.city": "location.approximate", "geo.latitude": "location.precise", "geo.longitude": "location.precise",
    },
    "weblogs": {
        "ts": "behavior.browsing", "host": None, "request.method": None, "request.path": "behavior.browsing",
        "request.headers.user-agent": "device.info", "request.headers.referer": "behavior.browsing",
        "request.headers.accept-language": "device.info", "response.status": None, "response.bytes": None,
        "response.duration_ms": None, "client.ip": "network.ip", "client.session": "identifier.session",
        "client.visitor_id": "identifier.session", "user.id": "identifier.customer", "user.email": "contact.email",
        "trace_id": None,
    },
    "orders": {
        "id_commande": "transaction.order", "cree_le": None, "client.id_client": "identifier.customer",
        "client.prenom": "identity.name", "client.nom": "identity.name", "client.courriel": "contact.email",
        "client.telephone": "contact.phone", "client.date_naissance": "identity.dob",
        "adresse_livraison.ligne1": "contact.address", "adresse_livraison.ligne2": "contact.address",
        "adresse_livraison.ville": "contact.address", "adresse_livraison.code_postal": "contact.address",
        "adresse_livraison.pays": None, "lignes[].produit_id": None, "lignes[].libelle": None,
        "lignes[].quantite": None, "lignes[].prix_unitaire": None, "montant_total": "transaction.order",
        "devise": None, "paiement.moyen": "transaction.payment", "paiement.statut": "transaction.payment",
        "transporteur": "transaction.logistics", "numero_suivi": "transaction.logistics",
        "message_cadeau": "free_text", "empreinte_appareil": "identifier.session",
    },
}


def generators(seed: int = 3) -> dict[str, Callable[[], dict[str, Any]]]:
    g = Generator(seed)
    return {"loyalty": g.loyalty, "tickets": g.ticket, "consent": g.consent, "weblogs": g.weblog, "orders": g.order}
