"""Evidence from the classifiers combined into one decision per field.

The evidence for each category adds up as independent clues do (1 - Π(1 - w)); the strongest
category wins and its confidence is lowered by the strongest competitor. "Not personal" is a
category like the others, so a field is left untagged only when something says it is not personal
more convincingly than anything says it is. A string field nothing recognises, or a personal
guess that stays weak, gets a conservative category and a review note, never silently nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.discover.classify import Evidence, Field

REVIEW_BELOW = 0.5
_NOT_PERSONAL = "-"


@dataclass(frozen=True)
class Decision:
    category: str | None
    confidence: float
    reasons: tuple[str, ...]
    format: str | None = None
    scan: bool = False
    review: str | None = None


def decide(field: Field, evidence: list[Evidence]) -> Decision:
    scores: dict[str, float] = {}
    for item in evidence:
        key = item.category or _NOT_PERSONAL
        scores[key] = 1 - (1 - scores.get(key, 0.0)) * (1 - item.weight)
    if not scores:
        return _undecided(field)
    ranked = sorted(scores.items(), key=lambda entry: -entry[1])
    winner, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    confidence = round(score * (1 - 0.5 * runner_up), 2)
    chosen = [item for item in evidence if (item.category or _NOT_PERSONAL) == winner]
    reasons = tuple(item.reason for item in sorted(chosen, key=lambda item: -item.weight))
    fmt = next((item.format for item in sorted(chosen, key=lambda item: -item.weight) if item.format), None)
    scan = any(item.scan for item in chosen)
    if winner == _NOT_PERSONAL:
        personal = [(key, value) for key, value in ranked if key != _NOT_PERSONAL]
        if confidence < REVIEW_BELOW and personal:
            # err towards tagging: a weak "not personal" does not overrule a personal clue
            category = personal[0][0]
            kept = [item for item in evidence if item.category == category]
            return Decision(category, round(personal[0][1], 2), tuple(item.reason for item in kept),
                            next((item.format for item in kept if item.format), None),
                            any(item.scan for item in kept),
                            review=f"as likely not personal ({'; '.join(reasons)})")
        return Decision(None, confidence, reasons, fmt)
    review = None
    if confidence < REVIEW_BELOW:
        review = f"weak evidence ({confidence:.2f})"
        if len(ranked) > 1:
            other = ranked[1][0].replace(_NOT_PERSONAL, "not personal")
            review += f"; could also be {other}"
    return Decision(winner, confidence, reasons, fmt, scan, review)


def _undecided(field: Field) -> Decision:
    kind = field.kind
    if kind in ("int", "float", "bool"):
        return Decision(None, 0.5, ("a number or flag no rule recognised",))
    if kind == "string" and field.share("text") >= 0.3:
        return Decision("free_text", 0.3, ("no rule recognised it; some values are text",), scan=True,
                        review="no rule recognised the name or the values; tagged as free text to scan")
    if kind == "null":
        return Decision("account.profile", 0.2, ("always null in the sample",),
                        review="always null in the sample: its type and category are guesses")
    return Decision("account.profile", 0.25, ("no rule recognised the name or the values",),
                    review="no rule recognised the name or the values; dropped as profile data until reviewed")
