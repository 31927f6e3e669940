"""Free text people write: notes, comments, messages, descriptions; scanned for personal data inside."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("note", "notes", "comment", "comments", "message", "messages", "msg", "text", "body", "description",
         "remark", "remarks", "feedback", "review", "content", "subject", "reason", "instructions", "instruction",
         "memo", "details", "detail", "bemerkung", "bemerkungen", "kommentar", "nachricht", "notiz", "hinweis",
         "anmerkung", "beschreibung", "betreff", "mitteilung", "commentaire", "remarque", "observation",
         "observations", "objet", "avis", "mensaje", "comentario", "comentarios", "nota", "notas", "observaciones",
         "asunto", "descripcion", "messaggio", "commento", "oggetto", "descrizione", "testo", "question", "answer",
         "chat", "transcript", "summary", "opmerking", "opmerkingen", "notitie", "bericht", "toelichting",
         "uwagi", "uwaga", "komentarz", "wiadomosc", "meddelande", "anteckning", "kommentarer", "observacoes",
         "mensagem", "comentarios", "besked", "notat",
         "log", "title", "headline", "caption", "story", "opinion", "complaint",
         "reclamation", "beschwerde", "queja", "reclamo", "ticket", "problem", "issue", "request", "freetext")
NOT_TEXT = ("id", "type", "kind", "count", "length", "at", "date", "time", "status", "code", "language", "lang",
            "locale", "version", "template", "sentiment", "score", "rating", "channel", "category", "priority")
_SHORT_SETS = ("title", "subject", "log", "request", "issue", "problem", "ticket", "reason", "betreff", "objet",
               "asunto", "oggetto", "headline", "caption")


class FreeTextClassifier(Classifier):
    name: ClassVar[str] = "free_text"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null"):
            return []
        if field.named("address", "adresse", "direccion", "indirizzo", "street", "strasse", "calle", "adres",
                       "endereco", "anschrift"):
            return []   # an address written out as one line
        token = field.named(*NAMES)
        text = field.share("text")
        out: list[Evidence] = []
        if token and not field.named(*NOT_TEXT):
            if field.in_product_context and text < 0.5:
                return out   # a product's description or title
            if token in _SHORT_SETS and (
                    text < 0.3 and field.distinct_ratio < 0.5):
                return out   # a short closed set of titles or reasons
            out.append(Evidence("free_text", 0.85 if text >= 0.2 or field.kind == "null" else 0.65,
                                f"name has '{token}'", scan=True))
        if text >= 0.5 and (field.distinct_ratio >= 0.3 or len(field.node.distinct) >= 10):
            out.append(Evidence("free_text", 0.45 + 0.4 * text, f"{text:.0%} of values are sentences", scan=True))
        return out
