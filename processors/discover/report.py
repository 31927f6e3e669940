"""The report ``lethe discover`` prints: one row per field path, then what awaits review.

Built from the decisions only: field names, types, categories and reasons, never a value.
"""

from __future__ import annotations

from processors.columns import aligned
from processors.discover.propose import Discovery

COLUMNS = ("path", "type", "category", "format", "conf", "reasons", "review")


def report_text(result: Discovery, reason_width: int = 60) -> str:
    rows = [COLUMNS]
    for field in result.fields:
        decision = field.decision
        fmt = (decision.format or "") + (" scan" if decision.scan and decision.category else "")
        reasons = "; ".join(decision.reasons)
        if len(reasons) > reason_width:
            reasons = reasons[: reason_width - 1] + "…"
        rows.append((field.path, field.avro_type, decision.category or "-", fmt.strip() or "-",
                     f"{decision.confidence:.2f}", reasons, "REVIEW" if decision.review else ""))
    lines = aligned(rows)
    personal = sum(1 for field in result.fields if field.decision.category)
    lines.append("")
    lines.append(f"{result.records} records sampled from {result.topic}: {len(result.fields)} field paths, "
                 f"{personal} tagged personal, {len(result.review)} to review.")
    for field in result.review:
        lines.append(f"  review {field.path} ({field.decision.confidence:.2f}): {field.decision.review}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"
