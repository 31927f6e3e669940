from discover_cases import EMAILS, NAMES, classifier_tests

from processors.discover.classify.email import EmailClassifier

FOUND = [
    ("email", EMAILS, "contact.email"),
    ("customer.e_mail", EMAILS, "contact.email"),
    ("kunde.mailAdresse", EMAILS, "contact.email"),
    ("correo", EMAILS, "contact.email"),
    ("courriel", EMAILS, "contact.email"),
    ("contact", EMAILS, "contact.email"),          # by values alone
    ("contacts[].email", EMAILS, "contact.email"),
]
IGNORED = [
    ("email_verified", [True, False] * 10),
    ("email_opt_in", [1, 0] * 10),
    ("contact", NAMES),
    ("newsletter", ["weekly", "monthly"] * 10),
]

test_finds, test_ignores = classifier_tests(EmailClassifier(), FOUND, IGNORED)
