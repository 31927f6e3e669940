"""What every field classifier shares: the evidence it returns and the view of a field it reads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from processors.discover import shapes
from processors.discover.infer import Node
from processors.discover.tokens import has, is_exactly, tokens

PERSON_CONTEXT = ("customer", "user", "member", "client", "cliente", "kunde", "person", "contact", "buyer",
                  "recipient", "sender", "author", "owner", "holder", "passenger", "guest", "patient", "employee",
                  "subscriber", "profile", "account", "billing", "shipping", "delivery", "empfanger", "destinataire",
                  "destinatario", "titular", "utilisateur", "usuario", "utente", "benutzer", "nutzer", "acheteur",
                  "comprador", "reviewer", "requester", "applicant", "student", "driver", "rider", "visitor", "lead",
                  "consumer", "adherent", "socio", "mitglied", "persona", "personne", "rider", "driver", "doctor",
                  "physician", "arts", "arzt", "medecin", "medico", "nurse", "teacher", "klant", "patient", "kund",
                  "klient", "pasajero", "passagier", "fahrer", "autista", "conductor", "agent", "caller", "signer")
PRODUCT_CONTEXT = ("item", "items", "product", "products", "line", "lines", "lineitem", "article", "artikel",
                   "articles", "articulo", "articoli", "produit", "produits", "producto", "productos", "prodotto",
                   "sku", "variant", "catalog", "offer", "position", "positionen", "cart", "basket", "warenkorb",
                   "panier", "carrito", "carrello", "merchant", "shop", "store", "brand", "category", "plan",
                   "campaign", "coupon", "voucher", "reward", "tier", "program", "programme", "level", "service",
                   "event", "page",
                   "app", "company", "organization", "organisation", "team", "department", "language")
ADDRESS_CONTEXT = ("address", "addresses", "adresse", "anschrift", "direccion", "indirizzo", "endereco", "domicile",
                   "domicilio", "shipping", "billing", "delivery", "lieferadresse", "rechnungsadresse", "livraison",
                   "facturation", "envio", "facturacion", "spedizione", "residence", "wohnort", "postal", "mailing",
                   "adres", "shippingaddress", "billingaddress")
GEO_CONTEXT = ("geo", "location", "position", "standort", "ubicacion", "localisation", "posizione", "place",
               "coordinates", "coords", "gps", "geolocation", "geoip", "localizacion", "lieu", "ort")

_ID_WORDS = ("id", "ids", "uuid", "guid", "key", "no", "nr", "num", "number", "numero", "nummer", "code", "ref",
             "reference", "token")
_PERSON_SIBLINGS = ("firstname", "lastname", "fullname", "surname", "vorname", "nachname", "prenom", "apellidos",
                    "givenname", "familyname", "voornaam", "achternaam", "cognome")
_PRODUCT_SIBLINGS = ("sku", "quantity", "qty", "unitprice", "price", "menge", "cantidad", "quantite")


@dataclass(frozen=True)
class Evidence:
    """One classifier's opinion on one field: a category (None = not personal data), how sure."""

    category: str | None
    weight: float          # 0..1, how much this evidence alone should convince
    reason: str            # short, never a value: "name 'email'", "92% of values are e-mail addresses"
    format: str | None = None
    scan: bool = False


class Field:
    """A sampled field as the classifiers see it: name tokens, context, value shapes."""

    def __init__(self, node: Node) -> None:
        self.node = node

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        return tokens(self.node.name)

    @cached_property
    def context(self) -> tuple[str, ...]:
        """Tokens of the enclosing fields' names, nearest first."""
        return tuple(t for name in self.node.ancestors for t in tokens(name))

    @cached_property
    def nearest(self) -> tuple[str, ...]:
        ancestors = self.node.ancestors
        return tokens(ancestors[0]) if ancestors else ()

    @cached_property
    def sibling_tokens(self) -> frozenset[str]:
        return frozenset(t for name in self.node.siblings for t in tokens(name))

    @property
    def kind(self) -> str:
        """string, int, float, bool, object, array, null: the commonest JSON kind of its values."""
        return self.node.main_kind

    @property
    def values(self) -> list[str]:
        return self.node.strings

    @property
    def in_array(self) -> bool:
        return self.node.in_array

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    @cached_property
    def distinct_ratio(self) -> float:
        count = self.node.kinds["string"]
        return len(self.node.distinct) / count if count else 0.0

    def share(self, shape: str) -> float:
        cache: dict[str, float] = self.__dict__.setdefault("_shares", {})
        if shape not in cache:
            cache[shape] = shapes.share(self.values, shape)
        return cache[shape]

    def named(self, *vocabulary: str) -> str | None:
        """The token of the field's name found in ``vocabulary``, or None."""
        return has(self.tokens, vocabulary)

    def named_exactly(self, *vocabulary: str) -> bool:
        return is_exactly(self.tokens, vocabulary)

    def within(self, *vocabulary: str) -> str | None:
        """The token of an enclosing field's name found in ``vocabulary``, or None."""
        return has(self.context, vocabulary)

    def within_nearest(self, *vocabulary: str) -> str | None:
        return has(self.nearest, vocabulary)

    def beside(self, *vocabulary: str) -> str | None:
        return has(self.sibling_tokens, vocabulary)

    @property
    def is_id_name(self) -> bool:
        if not self.tokens:
            return False
        first, last = self.tokens[0], self.tokens[-1]
        return (last in _ID_WORDS or last.endswith("id") or last.endswith("nummer")
                or (first in ("id", "num", "no", "nr", "numero") and len(self.tokens) > 1))

    @property
    def in_person_context(self) -> bool:
        return self.within_nearest(*PERSON_CONTEXT) is not None or self.beside(*_PERSON_SIBLINGS) is not None

    @property
    def in_product_context(self) -> bool:
        return (self.within_nearest(*PRODUCT_CONTEXT) is not None
                or self.beside(*_PRODUCT_SIBLINGS) is not None)

    @property
    def in_address_context(self) -> bool:
        if self.within_nearest(*ADDRESS_CONTEXT) is not None:
            return True
        return (self.beside("street", "strasse", "rue", "calle", "via", "postcode", "zip", "zipcode", "plz",
                            "postalcode", "line1", "addressline1", "housenumber", "hausnummer") is not None
                and self.within_nearest(*GEO_CONTEXT) is None)

    @property
    def in_geo_context(self) -> bool:
        return self.within_nearest(*GEO_CONTEXT) is not None or self.beside("lat", "latitude", "lon", "lng") is not None


class Classifier:
    """One rule: ``classify`` returns what it can tell about a field (often nothing)."""

    name: ClassVar[str]

    def classify(self, field: Field) -> list[Evidence]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
