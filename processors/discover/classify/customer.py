"""The data subject's own id: customer, user, member, client or account ids (``identifier.customer``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import PERSON_CONTEXT, Classifier, Evidence, Field

OWNERS = ("customer", "user", "member", "client", "cliente", "kunde", "kunden", "account", "subscriber",
          "profile", "buyer", "person", "patient", "player", "shopper", "consumer", "contact", "utilisateur",
          "usuario", "utente", "benutzer", "nutzer", "mitglied", "socio", "adherent", "loyalty", "fidelite",
          "fidelidad", "membership", "guest", "uid", "userid", "customerid", "kundennummer", "kundenid")
LOYALTY = ("loyalty", "membership", "fidelite", "fidelidad", "fedelta", "bonus", "payback", "rewards", "club",
           "kundenkarte", "treue", "treuekarte")
# people who are data subjects without being customers: their ids identify a person just the same
ROLES = ("rider", "driver", "passenger", "patient", "guest", "student", "employee", "staff", "owner", "author",
         "sender", "recipient", "reviewer", "applicant", "tenant", "traveller", "traveler", "host", "seller",
         "klant", "klantnummer", "lidnummer", "pasajero", "conductor", "fahrer", "passagier", "autista",
         "paziente", "paciente", "huesped", "gast", "ospite", "klient", "klienta", "uzytkownik", "kund", "kunde",
         "medlem", "cliente", "kunden", "mitglieds", "adherent", "abonne", "abonnent", "subscriber")
_ID_ENDINGS = ("nummer", "number", "nr", "id", "no", "numero")


def _compound_owner(name_tokens: tuple[str, ...]) -> str | None:
    """``patientnummer``, ``klantnummer``, ``mitgliedsnummer``: an owner word glued to an id word."""
    for token in name_tokens:
        for ending in _ID_ENDINGS:
            stem = token[: -len(ending)] if token.endswith(ending) and len(token) > len(ending) + 2 else ""
            if stem and (stem in OWNERS or stem in ROLES or stem.rstrip("s") in ROLES):
                return token
    return None


class CustomerClassifier(Classifier):
    name: ClassVar[str] = "customer"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "int", "null"):
            return []
        if field.named("pseudo", "anonymous", "anon", "visitor", "cookie", "device", "session", "tracking", "ad",
                       "advertising"):
            return []   # a browser's or device's id, not the person's: identifier.session
        club = field.named(*LOYALTY)
        if club and field.named("card", "tarjeta", "carte", "karte", "carta", "number", "numero", "nummer", "id"):
            return [Evidence("identifier.customer", 0.85, f"name has '{club}': a membership number")]
        owner = field.named(*OWNERS, *ROLES) or _compound_owner(field.tokens)
        if owner and (field.is_id_name or owner in ("uid", "userid", "customerid", "kundennummer", "kundenid")):
            if field.named("type", "kind", "status", "tier", "level", "segment", "since", "agent", "name"):
                return []
            weight = 0.9 if owner not in LOYALTY else 0.75
            return [Evidence("identifier.customer", weight, f"name has '{owner}' and is an id")]
        club = field.within_nearest(*LOYALTY)
        if club and field.is_id_name:
            return [Evidence("identifier.customer", 0.8, f"the number of a '{club}' membership")]
        if owner and field.kind == "string" and field.share("opaque_id") >= 0.8 and field.share("person_name") < 0.2:
            return [Evidence("identifier.customer", 0.8, f"'{owner}' holding opaque ids")]
        near = field.within_nearest(*PERSON_CONTEXT)
        if near and field.named_exactly("id", "uuid", "guid", "number", "nr", "no", "ref", "key"):
            return [Evidence("identifier.customer", 0.85, f"the id of a '{near}'")]
        return []
