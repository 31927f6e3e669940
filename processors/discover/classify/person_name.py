"""People's names: first/last/full name fields in several languages, ``name`` inside a person."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

PARTS = ("firstname", "lastname", "surname", "fullname", "givenname", "familyname", "vorname", "nachname",
         "prenom", "apellido", "apellidos", "cognome", "forename", "middlename",
         "maidenname", "initials", "nomcomplet", "nombrecompleto", "contactname", "recipientname", "customername",
         "cardholder", "cardholdername", "voornaam", "achternaam", "roepnaam", "tussenvoegsel",
         "imie", "nazwisko", "fornamn", "efternamn", "fornavn", "efternavn", "sobrenome", "primeironome", "etunimi",
         "sukunimi", "jmeno", "prijmeni", "holdername", "accountholder", "titular")
THINGS = ("device", "app", "application", "browser", "os", "file", "company", "organization", "organisation",
          "shop", "store", "merchant", "brand", "event", "campaign", "plan", "tier", "program", "category", "tag",
          "page", "screen", "service", "team", "product", "geraet", "appareil", "dispositivo", "firma", "empresa",
          "entreprise", "tienda", "boutique", "geschaeft", "country", "city", "region")


class PersonNameClassifier(Classifier):
    name: ClassVar[str] = "person_name"

    def classify(self, field: Field) -> list[Evidence]:
        out: list[Evidence] = []
        if field.kind not in ("string", "null", "array"):
            return out
        looks = field.share("person_name")
        token = field.named(*PARTS)
        if token or field.named_exactly(*PARTS):
            out.append(Evidence("identity.name", 0.92, f"name has '{token or field.node.name}'"))
            return out
        if field.named("name", "names", "nombre", "nom", "nome", "naam", "navn", "namn", "nimi") and not field.named(
                "user", "username", "display", "displayname", "nick", "nickname", "file", "product", "company",
                "brand", "host", "domain", "event", "app", "device", "browser", "city", "street", "country", "shop",
                "store", "item", "plan", "campaign", "page", "screen", "category", "field", "tag", "key"):
            thing = field.within_nearest(*THINGS)
            if field.beside("value", "values", "val", "wert", "valeur", "valor", "valore"):
                out.append(Evidence(None, 0.8, "the name of a name/value pair"))
            elif thing:
                out.append(Evidence(None, 0.7, f"name of a '{thing}'"))
            elif field.in_product_context:
                out.append(Evidence(None, 0.75, "name of a product or item"))
            elif field.in_person_context:
                out.append(Evidence("identity.name", 0.9, "'name' of a person"))
            elif looks >= 0.5:
                out.append(Evidence("identity.name", 0.6 + 0.3 * looks, "'name' with values like people's names"))
            else:
                out.append(Evidence("identity.name", 0.45, "'name' of something unknown"))
        elif looks >= 0.8 and (field.distinct_ratio > 0.3 or len(field.node.distinct) >= 5) \
                and not field.in_product_context:
            out.append(Evidence("identity.name", 0.5, f"{looks:.0%} of values look like people's names"))
        return out
