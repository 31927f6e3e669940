from discover_cases import classifier_tests

from processors.discover.classify.address import AddressClassifier

STREETS = ["Hauptstraße 5", "12 rue de la Paix", "Calle Mayor 7", "221B Baker Street"] * 5
FOUND = [
    ("shipping_address.street", STREETS, "contact.address"),
    ("adresse.strasse", STREETS, "contact.address"),
    ("direccion.calle", STREETS, "contact.address"),
    ("billing.city", ["Paris", "Lyon"] * 10, "contact.address"),
    ("adresse.ville", ["Paris", "Lyon"] * 10, "contact.address"),
    ("address.postcode", ["75011", "69002"] * 10, "contact.address"),
    ("plz", ["10115", "80331"] * 10, "contact.address"),
    ("indirizzo.cap", ["00184", "20121"] * 10, "contact.address"),
    ("shipping_address.region", ["Bayern", "Île-de-France"] * 10, "contact.address"),
    ("geo.city", ["Paris", "Lyon"] * 10, "location.approximate"),
    ("location.ciudad", ["Madrid", "Sevilla"] * 10, "location.approximate"),
    ("region", ["EU", "US"] * 10, None),           # a data region, not where someone lives
]
IGNORED = [
    ("shipping_address.country", ["FR", "DE"] * 10),
    ("country_code", ["FR", "DE"] * 10),
    ("email", ["a@b.example"] * 20),
    ("region", ["EU", "US"] * 10),
    ("address_verified", [True, False] * 10),
]

test_finds, test_ignores = classifier_tests(AddressClassifier(), FOUND, IGNORED)
