from discover_cases import classifier_tests

from processors.discover.classify.free_text import FreeTextClassifier

TEXTS = [text.format(n) for n in range(5) for text in (
    "Bitte beim Nachbarn {} abgeben, danke schön", "Please ring {} times, the bell is broken",
    "Merci de livrer après {} heures", "Dejar en la portería {} por favor")]
FOUND = [
    ("notes", TEXTS, "free_text"),
    ("kommentar", TEXTS, "free_text"),
    ("commentaire", TEXTS, "free_text"),
    ("ticket.mensaje", TEXTS, "free_text"),
    ("remark", [None] * 20, "free_text"),
    ("anything", TEXTS, "free_text"),              # by values alone
]
IGNORED = [
    ("comment_count", [1, 2] * 10),
    ("message_id", ["m-1", "m-2"] * 10),
    ("reason", ["damaged", "late"] * 10),
]

test_finds, test_ignores = classifier_tests(FreeTextClassifier(), FOUND, IGNORED)
