"""An export document (docs/rights.md, "Exports"): assembled from the parts on privacy.exports.v1,
and, for portability, the same data as one CSV table per store table (and Lethe's consent choices).

Pure: parts in, a document out; a document in, file names and CSV text out. streams/cli/exports.py
waits for the request, reads the topic and writes the files.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from processors.errors import LetheError
from processors.rights.access import EXPORT_FORMAT, export_request
from processors.rights.portability import CHOICE_FIELDS

FORMATS = ("json", "csv", "both")
# what a table's file is named after (a store, a [schema.]table): nothing that leaves the directory
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,254}")


def assemble(state: Mapping[str, Any], parts: Iterable[Mapping[str, Any]],
             generated_at: str) -> tuple[dict[str, Any], int]:
    """The export document of a complete request from its parts (in topic order), and how many
    parts it holds. A repeated part (a retried command) replaces the earlier one."""
    # the request first, so the reader sees what produced the file before the data
    document: dict[str, Any] = {"format": EXPORT_FORMAT, "request": export_request(dict(state)),
                                "generated_at": generated_at, "lethe": None, "stores": {}}
    pieces: dict[tuple[str, str | None], dict[int, Any]] = {}
    for part in parts:
        if part.get("request_id") == state["request_id"]:
            pieces.setdefault((part["source"], part["family"]), {})[part.get("chunk", 0)] = json.loads(part["document"])
    for (source, family), chunks in sorted(pieces.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        ordered = [chunks[n] for n in sorted(chunks)]
        if source == "lethe":
            lethe_part = ordered[0]
            for more in ordered[1:]:
                lethe_part["pending_deadlines"] += more["pending_deadlines"]
            document["lethe"] = lethe_part
        else:
            document["stores"].setdefault(source, {})[family] = [row for rows in ordered for row in rows]
    return document, sum(len(chunks) for chunks in pieces.values())


def tables(document: Mapping[str, Any]) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """A portability document as tables, by file name: (columns, rows) of ``lethe.consent_choices.csv``
    and of one ``<store>.<table>.csv`` per table rows came from (its columns but ``table``)."""
    choices = (document.get("lethe") or {}).get("consent_choices", [])
    found = {"lethe.consent_choices.csv": (list(CHOICE_FIELDS), list(choices))}
    for store, families in document["stores"].items():
        for rows in families.values():
            for row in rows:
                table = str(row["table"])
                if not (_NAME.fullmatch(store) and _NAME.fullmatch(table)):
                    raise LetheError(f"store {store!r} sent rows of table {table!r}: not names to name a file after "
                                     "(letters, digits, . _ : -)")
                columns, kept = found.setdefault(f"{store}.{table}.csv", ([], []))
                kept.append({k: v for k, v in row.items() if k != "table"})
                columns += [column for column in kept[-1] if column not in columns]
    return found


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted where needed) with a header row of ``columns``; null is
    an empty field, true and false are written so, anything nested as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[_cell(row.get(column)) for column in columns] for row in rows])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
