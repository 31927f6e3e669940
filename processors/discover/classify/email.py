"""E-mail addresses: by name in several languages, or by values that are e-mail addresses."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("email", "mail", "correo", "courriel", "emailaddress", "mailadresse", "posta", "pec", "epost", "sahkoposti",
         "emailadres", "emailadresse")


class EmailClassifier(Classifier):
    name: ClassVar[str] = "email"

    def classify(self, field: Field) -> list[Evidence]:
        out: list[Evidence] = []
        if field.kind == "bool" or field.numeric:
            return out
        share = field.share("email")
        token = field.named(*NAMES)
        if token and field.kind in ("string", "null", "array"):
            out.append(Evidence("contact.email", 0.9 if share >= 0.5 or field.kind == "null" else 0.6,
                                f"name has '{token}'"))
        if share >= 0.6:
            out.append(Evidence("contact.email", 0.6 + 0.35 * share, f"{share:.0%} of values are e-mail addresses"))
        return out
