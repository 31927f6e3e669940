"""Phone numbers: by name in several languages, or by values that are phone numbers."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("phone", "tel", "telephone", "telefon", "telefono", "telefone", "mobile", "mobil", "handy", "cell",
         "cellphone", "msisdn", "fax", "portable", "movil", "cellulare", "phonenumber", "telefonnummer", "whatsapp",
         "celular", "gsm", "rufnummer", "telefoon", "mobiel", "telefonnummer", "komorka",
         "mobilnummer", "telemovel", "puhelin", "mobiltelefon")


class PhoneClassifier(Classifier):
    name: ClassVar[str] = "phone"

    def classify(self, field: Field) -> list[Evidence]:
        out: list[Evidence] = []
        if field.kind == "bool":
            return out
        token = field.named(*NAMES)
        share = field.share("phone")
        if token and field.kind in ("string", "null", "array", "int") and not field.named(
                "type", "kind", "verified", "country", "prefix", "optin", "consent"):
            out.append(Evidence("contact.phone", 0.9 if share >= 0.5 or field.kind != "string" else 0.65,
                                f"name has '{token}'"))
        if share >= 0.8 and field.kind == "string" and field.share("digits") < 0.5:
            out.append(Evidence("contact.phone", 0.55 + 0.2 * share, f"{share:.0%} of values are phone numbers"))
        return out
