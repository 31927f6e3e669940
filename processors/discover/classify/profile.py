"""Account profile data: nickname, user name, avatar, gender, bio (``account.profile``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("username", "nickname", "displayname", "handle", "alias", "screenname", "login", "avatar", "avatarurl",
         "photo", "picture", "profilepicture", "image", "gender", "geschlecht", "sexe", "sexo", "genero", "sesso",
         "bio", "biography", "pseudo", "pseudonimo", "spitzname", "apodo", "soprannome", "nationality",
         "nationalitaet", "nationalite", "nacionalidad", "title", "anrede", "civilite", "salutation", "tratamiento",
         "occupation", "beruf", "profession", "jobtitle", "employer", "arbeitgeber", "company", "firma",
         "empresa", "entreprise", "azienda", "maritalstatus", "familienstand", "religion", "ethnicity", "taxid",
         "ssn", "nationalid", "passport", "dni", "nif", "nie", "codicefiscale", "steuerid", "personalausweis",
         "insurance", "versicherungsnummer", "signature", "unterschrift", "bsn", "pesel", "personnummer",
         "cpr", "nino", "nir", "cpf", "rut", "burgerservicenummer", "sozialversicherungsnummer", "avs", "ahv")
NATIONAL_IDS = ("ssn", "nationalid", "passport", "dni", "nif", "nie", "codicefiscale", "steuerid", "personalausweis",
                "taxid", "bsn", "pesel", "personnummer", "cpr", "nino", "nir", "cpf", "rut", "burgerservicenummer",
                "sozialversicherungsnummer", "avs", "ahv", "versicherungsnummer")
PROFILE_ONLY_IN_PERSON = ("title", "image", "photo", "picture", "company", "firma", "empresa", "entreprise",
                          "azienda", "login")


class ProfileClassifier(Classifier):
    name: ClassVar[str] = "profile"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null", "int"):
            return []
        token = field.named(*NAMES) or (field.node.name if field.named_exactly(*NAMES) else None)
        if token is None or field.named("type", "kind", "verified", "count", "at", "date", "enabled", "flag"):
            return []
        if token in PROFILE_ONLY_IN_PERSON and not field.in_person_context:
            return []
        weight = 0.9 if token in NATIONAL_IDS else 0.8
        return [Evidence("account.profile", weight, f"name has '{token}'")]
