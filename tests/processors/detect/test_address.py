from detect_cases import found, rule_tests

from processors.detect.address import AddressRule

RULE = AddressRule()

VALID = [
    ("ship to 221B Baker Street, London", "221B Baker Street"),
    ("10 Downing St. please", "10 Downing St"),
    ("lives at 1600 Pennsylvania Avenue NW since", "1600 Pennsylvania Avenue NW"),
    ("office: 350 5th Ave", "350 5th Ave"),
    ("12 St Mary's Road", "12 St Mary's Road"),
    ("Flat 3, 42 Old Kent Rd", "42 Old Kent Rd"),
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
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)


def test_address_and_postcode_are_separate_spans() -> None:
    assert found(RULE, "221B Baker Street, London NW1 6XE") == ["221B Baker Street", "NW1 6XE"]
