from detect_cases import found, rule_tests

from processors.detect.address import AddressRule

RULE = AddressRule()

VALID = [
    ("ship to 221B Baker Street, London", "221B Baker Street"),
    ("10 Downing St. please", "10 Downing St"),
    ("lives at 1600 Pennsylvania Avenue NW since", "1600 Pennsylvania Avenue NW"),
    ("office: 350 5th Ave", "350 5th Ave"),
    ("12 St Mary's Road", "12 St Mary's Road"),
    ("deliver to Hauptstraße 5, 10115 Berlin", "Hauptstraße 5"),
    ("Lindenstr. 12a", "Lindenstr. 12a"),
    ("Am Gartenweg 7-9", "Gartenweg 7-9"),
    ("Berliner Straße 12", "Berliner Straße 12"),
    ("Kalverstraat 92, Amsterdam", "Kalverstraat 92"),
    ("Drottninggatan 53 Stockholm", "Drottninggatan 53"),
    ("Østerbrogade 10", "Østerbrogade 10"),
    ("Vesterbrovej 3", "Vesterbrovej 3"),
    ("Hauptstr.5", "Hauptstr.5"),
    ("Karl-Marx-Allee 90", "Karl-Marx-Allee 90"),
    ("Münchner Str. 3", "Münchner Str. 3"),
    ("postcode SW1A 1AA", "SW1A 1AA"),
    ("London NW1 6XE.", "NW1 6XE"),
    ("Manchester M1 1AE", "M1 1AE"),
    ("compact EC1A1BB", "EC1A1BB"),
    ("Musterweg 5a, 12345 Musterstadt", "Musterweg 5a"),
    ("Dorpsstraat 3-II", "Dorpsstraat 3-II"),
    ("bezorgen op Kerkstraat 12 hs graag", "Kerkstraat 12 hs"),
    # French
    ("livrer au 12 rue de la Paix, 75002 Paris", "12 rue de la Paix"),
    ("3 bis avenue Victor Hugo", "3 bis avenue Victor Hugo"),
    ("chez eux, 8, Quai d'Orsay", "8, Quai d'Orsay"),
    ("45 boulevard Saint-Germain", "45 boulevard Saint-Germain"),
    ("7 place des Vosges", "7 place des Vosges"),
    ("15 allée des Tilleuls, Lyon", "15 allée des Tilleuls"),
    # Spanish, Italian, Portuguese
    ("enviar a Calle Mayor 5, Madrid", "Calle Mayor 5"),
    ("Calle de Alcalá, 42", "Calle de Alcalá, 42"),
    ("C/ Gran Vía 28", "C/ Gran Vía 28"),
    ("Paseo de Gracia 43, Barcelona", "Paseo de Gracia 43"),
    ("consegna Via Roma 10, Torino", "Via Roma 10"),
    ("Piazza della Signoria 5", "Piazza della Signoria 5"),
    ("Viale Europa 22", "Viale Europa 22"),
    ("Strada Statale 1", "Strada Statale 1"),
    ("Rua Augusta 100, Lisboa", "Rua Augusta 100"),
    ("Avenida da Liberdade 245", "Avenida da Liberdade 245"),
    # Polish
    ("Dostawa na ul. Marszałkowska 12", "ul. Marszałkowska 12"),
    ("al. Jerozolimskie 12/4, Warszawa", "al. Jerozolimskie 12/4"),
    ("ul. Polna 3 m. 12", "ul. Polna 3 m. 12"),
    ("ul. Tadeusza Kościuszki 7a", "ul. Tadeusza Kościuszki 7a"),
    # unit prefixes
    ("Flat 3 buzzer broken", "Flat 3"),
    ("ring Apt 4B", "Apt 4B"),
    ("Apt. 12 ring twice", "Apt. 12"),
    ("bitte bei Wohnung 7 klingeln", "Wohnung 7"),
    ("Appartement 12, code 4521", "Appartement 12"),
]

INVALID = [
    "zip 10115",
    "order 90210 shipped",
    "I walked 5 miles down the street",
    "we have 3 ways to pay",
    "Chapter 3 The Way",
    "2 Dr visits",
    "10 downing street",
    "Hauptstraße without number",
    "Der Weg 2",
    "boarding at gate 5",
    "SW1A 1CA",
    "QW1 1AA",
    "ref AB12 3CDE",
    "Straße 5",
    "Route 66 merch",
    "bought 2 Route 66 mugs",
    "shipped via Amazon 2 days ago",
    "Via Express 24h",
    "Via Francigena 100 km walk",
    "3 place settings",
    "2 rue",
    "5 Rue",
    "Flat 5% discount",
    "Flat 10 EUR shipping",
    "flat 3",
    "Surface Studio 2 laptop",
    "Studio 54 night",
    "Unit 5 of the course",
    "Suite 16 pyjamas",
    "Plaza Hotel",
    "Calle 13 concert tickets",
    "Corso Python 3",
    "Cours Python 3",
    "size 10 route",
    "Apartment Therapy magazine",
    "order 12 Place Mats",
    "Piazza 2x pizza",
    "Largo Winch 3",
    "Via Amazon 2 parcels",
    "Via Rail 4 tickets",
    "Ronda Final 2",
    "Plaza Hotel 5 stars",
    "viale Europa 22",
    "12 Rue",
    "ul. Długa",
    "cal. 12",
]


def test_unit_and_street_are_separate_spans() -> None:
    assert found(RULE, "Flat 3, 42 Old Kent Rd") == ["Flat 3", "42 Old Kent Rd"]
    assert found(RULE, "Studio 2, 14 rue Oberkampf") == ["Studio 2", "14 rue Oberkampf"]
    assert found(RULE, "Suite 400, 350 5th Ave") == ["Suite 400", "350 5th Ave"]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)


def test_address_and_postcode_are_separate_spans() -> None:
    assert found(RULE, "221B Baker Street, London NW1 6XE") == ["221B Baker Street", "NW1 6XE"]
