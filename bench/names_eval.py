"""How far a given-name list plus capitalisation and context gets on third-party names in notes.

    pip install --target /tmp/gg gender-guesser==0.4.0      # evaluation only, never a dependency
    PYTHONPATH=/tmp/gg:$PWD .venv/bin/python bench/names_eval.py [--notes 3000] [--seed 7]

``gender-guesser`` ships Jörg Michael's list of about 48,000 given names across European
countries (4 MB, no download at run time); it is GPLv3, so Lethe (Apache-2.0) cannot ship it,
and it has not been released since 2016. This script measures what such a list would give, to
decide whether a names rule is worth looking for a compatibly licensed list. Three detectors:

- ``list``: every capitalised word the list knows as a given name, plus the capitalised word
  after it (the surname);
- ``list+cue``: the same, only within three words after a cue ("for", "with", "bei", "chez",
  "para", "per", "voor", "dla", "Happy birthday", …), or right before a comma and a phone;
- ``list+cue, not first word``: also refusing the note's first word (product lines start there).

Each row gives recall on the labelled names (every character covered) and false positives,
with the ones in notes that hold nothing personal (brands, products, places) counted apart.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from free_text_corpus import Note, corpus

_WORD = re.compile(r"[A-ZÀ-ÖØ-ÞĆŁŃŚŹŻ][a-zà-öø-ÿąćęłńśźż]+(?:-[A-ZÀ-Þ][a-zà-ÿ]+)?")
_CUES = re.compile(
    r"(?i:\b(?:for|with|to|from|ask for|birthday|bei|für|an|nachbarin|geburtstag|chez|pour|demander|anniversaire|"
    r"con|para|por|cumpleaños|per|di|compleanno|a|voor|bij|gefeliciteerd|dla|u|sąsiadki|najlepszego)\W{1,3})$"
)

Detector = Callable[[str], list[tuple[int, int]]]


def make_detectors(is_given: Callable[[str], bool]) -> dict[str, Detector]:
    def names(text: str, cue: bool, not_first: bool) -> list[tuple[int, int]]:
        found = []
        words = list(_WORD.finditer(text))
        for index, word in enumerate(words):
            if not is_given(word.group()):
                continue
            if not_first and word.start() == 0:
                continue
            if cue and _CUES.search(text, max(0, word.start() - 20), word.start()) is None:
                continue
            end = word.end()
            after = words[index + 1] if index + 1 < len(words) else None
            if after is not None and after.start() == end + 1:
                end = after.end()
            found.append((word.start(), end))
        return found

    return {
        "list": lambda text: names(text, False, False),
        "list+cue": lambda text: names(text, True, False),
        "list+cue, not first word": lambda text: names(text, True, True),
    }


def evaluate(detect: Detector, notes: list[Note]) -> tuple[float, int, int, int, int, float]:
    labelled = cleaned = found = false = false_clean = 0
    start = time.process_time()
    for note in notes:
        spans = detect(note.text)
        found += len(spans)
        names = [(a, b) for a, b, category in note.labels if category == "identity.name"]
        for a, b in names:
            labelled += 1
            cleaned += any(s <= a and b <= e for s, e in spans)
        for s, e in spans:
            if not any(s < b and a < e for a, b, _ in note.labels):
                false += 1
                false_clean += not note.labels
    per_note = (time.process_time() - start) / len(notes) * 1e6
    return cleaned / max(labelled, 1), labelled, found, false, false_clean, per_note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        import gender_guesser.detector as gender_guesser  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("gender-guesser is not importable: install it into a scratch directory (see the docstring)")
    guesser = gender_guesser.Detector(case_sensitive=True)
    notes = corpus(args.notes, args.seed)
    detectors = make_detectors(lambda word: bool(guesser.get_gender(word) != "unknown"))
    print(f"{len(notes)} notes ({sum(not n.labels for n in notes)} with nothing personal), seed {args.seed}\n")
    print("| detector | names | recall | spans | false positives | of them in notes with nothing personal "
          "| precision | µs/note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, detect in detectors.items():
        recall, labelled, found, false, false_clean, per_note = evaluate(detect, notes)
        precision = f"{1 - false / found:.1%}" if found else "–"
        print(f"| {name} | {labelled} | {recall:.1%} | {found} | {false} | {false_clean} | {precision} "
              f"| {per_note:.1f} |")
    examples = sorted({note.text[s:e] for note in notes for s, e in detectors["list+cue"](note.text)
                       if not any(s < b and a < e for a, b, _ in note.labels)})
    print(f"\nfalse positives of list+cue: {', '.join(examples[:25])}")


if __name__ == "__main__":
    main()
