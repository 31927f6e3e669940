"""Dates of birth (``identity.dob``; ``format: date`` when they are ``YYYY-MM-DD``, which the minors
rule and the year generalization read) and ages (profile data, ``account.profile``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field
from processors.time import parse_date

NAMES = ("dob", "birth", "birthday", "birthdate", "dateofbirth", "geburtsdatum", "geburtstag", "naissance",
         "datenaissance", "nacimiento", "fechanacimiento", "nascita", "datanascita", "born", "cumpleanos",
         "anniversaire", "age", "alter", "edad", "eta", "birthyear", "geburtsjahr", "geboortedatum",
         "urodzenia", "fodelsedatum", "fodselsdato", "nascimento", "syntymaaika", "leeftijd", "wiek", "alder")
AGES = ("age", "alter", "edad", "eta", "leeftijd", "wiek", "alder")


class BirthClassifier(Classifier):
    name: ClassVar[str] = "birth"

    def classify(self, field: Field) -> list[Evidence]:
        token = field.named(*NAMES)
        if not token or field.kind not in ("string", "int", "null"):
            return []
        if token in AGES:
            if field.kind == "string" and field.share("digits") < 0.5:
                return []
            return [Evidence("account.profile", 0.85, f"name has '{token}' (an age)")]
        values = field.values
        iso = bool(values) and sum(parse_date(v) is not None for v in values) >= 0.9 * len(values)
        return [Evidence("identity.dob", 0.85, f"name has '{token}' (date of birth)", format="date" if iso else None)]
