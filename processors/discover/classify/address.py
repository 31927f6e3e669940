"""Postal addresses: street, house number, city, postcode and region in an address."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import ADDRESS_CONTEXT, Classifier, Evidence, Field

STREET = ("street", "strasse", "str", "rue", "calle", "via", "address", "adresse", "direccion", "indirizzo",
          "endereco", "anschrift", "line1", "line2", "addressline", "addressline1", "addressline2", "housenumber",
          "hausnummer", "numero", "building", "apartment", "apt", "suite", "flat", "floor", "etage", "piso",
          "street1", "street2", "streetaddress", "ligne", "ligne1", "ligne2", "linea",
          "linea1", "linea2", "zeile", "adresszeile", "adressezusatz", "zusatz", "complemento", "complement",
          "strassenname", "straat", "huisnummer", "toevoeging", "ulica", "gata", "gatuadress", "rua",
          "logradouro", "numer", "domicilio", "careof", "co", "avenue", "road")
CITY = ("city", "ort", "stadt", "ville", "ciudad", "citta", "town", "locality", "localidad", "municipality",
        "gemeinde", "commune", "comune", "poblacion", "wohnort", "village", "district", "bezirk", "quartier",
        "barrio", "neighborhood", "neighbourhood", "suburb", "woonplaats", "plaats", "miasto", "stad",
        "cidade", "kaupunki", "mesto", "poststed", "postort")
POSTCODE = ("zip", "zipcode", "postcode", "postalcode", "plz", "cp", "cap", "codigopostal", "codepostal",
            "postleitzahl", "postnummer", "eircode", "pincode", "kodpocztowy", "cep", "postinumero", "psc")
REGION = ("region", "state", "province", "provincia", "bundesland", "county", "departement", "comunidad",
          "canton", "kanton", "prefecture", "provinz", "regione")


class AddressClassifier(Classifier):
    name: ClassVar[str] = "address"

    def classify(self, field: Field) -> list[Evidence]:
        out: list[Evidence] = []
        if field.kind in ("bool", "float", "object", "array"):
            return out
        if field.named("country", "land", "pays", "pais", "paese", "countrycode", "iso") or field.named_exactly(
                "countrycode", "countryiso"):
            return out
        postcode = field.named(*POSTCODE) or (
            field.node.name if field.named_exactly(*POSTCODE, "postal", "postalcode") else None)
        if postcode and field.kind in ("string", "int", "null"):
            if field.in_geo_context and not field.in_address_context:
                out.append(Evidence("location.approximate", 0.8, f"'{postcode}' of a location"))
            else:
                out.append(Evidence("contact.address", 0.9, f"name has '{postcode}'",
                                    format="postcode" if field.kind == "string" else None))
            return out
        if field.kind == "int":
            return out
        street = field.named(*STREET)
        if street and not field.named("email", "mail", "ip", "url", "web", "mac", "wallet", "billing", "shipping"):
            weight = 0.9 if street not in ("via", "co", "numero", "str") or field.in_address_context else 0.5
            out.append(Evidence("contact.address", weight, f"name has '{street}'"))
        city, region = field.named(*CITY), field.named(*REGION)
        place = city or region
        if place:
            if field.in_address_context:
                out.append(Evidence("contact.address", 0.85, f"'{place}' of a postal address"))
            elif field.in_geo_context:
                out.append(Evidence("location.approximate", 0.85, f"'{place}' of a location"))
            elif city:
                out.append(Evidence("location.approximate", 0.65, f"name has '{city}'"))
            elif field.node.ancestors:
                out.append(Evidence("contact.address", 0.5, f"'{region}' inside a record"))
            else:
                out.append(Evidence(None, 0.6, f"top-level '{region}': a data region, not where someone lives"))
        elif field.within_nearest(*ADDRESS_CONTEXT) and field.kind == "string" and not field.named(
                "type", "kind", "label", "id", "verified", "default", "primary", "valid"):
            out.append(Evidence("contact.address", 0.6, "part of a postal address"))
        return out
