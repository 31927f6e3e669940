"""Dates of birth and ages: profile data (``account.profile``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("dob", "birth", "birthday", "birthdate", "dateofbirth", "geburtsdatum", "geburtstag", "naissance",
         "datenaissance", "nacimiento", "fechanacimiento", "nascita", "datanascita", "born", "cumpleanos",
         "anniversaire", "age", "alter", "edad", "eta", "birthyear", "geburtsjahr", "geboortedatum",
         "urodzenia", "fodelsedatum", "fodselsdato", "nascimento", "syntymaaika", "leeftijd", "wiek", "alder")


class BirthClassifier(Classifier):
    name: ClassVar[str] = "birth"

    def classify(self, field: Field) -> list[Evidence]:
        token = field.named(*NAMES)
        if token and field.kind in ("string", "int", "null"):
            if token in ("age", "eta", "alter") and field.kind == "string" and field.share("digits") < 0.5:
                return []
            return [Evidence("account.profile", 0.85, f"name has '{token}' (date of birth or age)")]
        return []
