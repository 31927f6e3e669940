from detect_cases import rule_tests

from processors.detect.email import EmailRule

RULE = EmailRule()

VALID = [
    ("contact john.doe@example.com today", "john.doe@example.com"),
    ("<jane+news@mail.example.co.uk>", "jane+news@mail.example.co.uk"),
    ("mail:a_b-c@sub-domain.example.org.", "a_b-c@sub-domain.example.org"),
    ("https://shop.example/unsubscribe?email=john%40example.com&x=1", "john%40example.com"),
    ("mailto%3Ajane.roe%40example.net", "jane.roe%40example.net"),
    ("to%20bob%40example.de%20please", "bob%40example.de"),
    ("(USER@EXAMPLE.COM)", "USER@EXAMPLE.COM"),
    ("x=1;name=o.brien@example.ie;", "o.brien@example.ie"),
    ("reply to 42@numbers.example.io", "42@numbers.example.io"),
]

INVALID = [
    "no address here",
    "user@localhost",
    "@example.com",
    "john@",
    "john@@example.com",
    "john@example.c",
    "price 100%40 off",
    "john@-example.com",
    "twitter handle @johndoe",
    "john.@example",
]


test_finds, test_ignores = rule_tests(RULE, VALID, INVALID)


def test_span_carries_category_and_rule() -> None:
    (span,) = RULE.find("a@example.com")
    assert (span.start, span.end, span.category, span.rule) == (0, 13, "contact.email", "email")
