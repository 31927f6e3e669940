"""Writing an access or portability export (`lethe request export`, `lethe request access|portability
--out`): wait until the request is complete, gather its parts from privacy.exports.v1, write the
files readable by their owner only, and audit it (docs/rights.md, "Exports")."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processors.errors import LetheError
from processors.exportkeys import open_part
from processors.exports import assemble, csv_text, tables
from processors.records import audit_record, lifecycle_ack
from streams.cli.common import _bootstrap
from streams.settings import Settings
from streams.text import a_or_an, plural

EXPORT_TYPES = ("access", "portability")
WRITER = "lethe-request-export"   # the "store" of the ack that says an export is written


def write_export(settings: Settings, request_id: str, out: Path, wait: float, fmt: str | None = None) -> int:
    """Write ``DIR/<request id>.json`` and, for portability (``fmt`` csv or both, its default), one
    CSV file per table in ``DIR/<request id>/``; audit it as ``export_written``."""
    from streams.client import publish, read

    bootstrap = _bootstrap()
    state = _completed(settings, bootstrap, request_id, wait)
    fmt = fmt or ("both" if state["type"] == "portability" else "json")
    if fmt != "json" and state["type"] != "portability":
        raise LetheError(f"--format {fmt}: CSV tables are written for portability exports; request {request_id} "
                         f"is {a_or_an(state['type'])} request (use --format json)")
    records = read(bootstrap, [settings.topics.name("privacy.exports.v1")], timeout=60, idle=1.5)
    private_key = state["export"].get("private_key")
    if private_key is None:
        export = state["export"]
        raise LetheError(f"the export key of request {request_id} was destroyed at {export['key_destroyed_at']} "
                         f"({export['key_destroyed_by']}): its parts cannot be read any more; "
                         "file a new access or portability request")
    mine = (json.loads(r.value or b"{}") for r in records)
    opened = [open_part(private_key, part) for part in mine if part.get("request_id") == request_id]
    document, parts = assemble(state, opened, datetime.now(UTC).isoformat())
    out.mkdir(mode=0o700, parents=True, exist_ok=True)   # a new directory is the owner's only
    written = []
    if fmt in ("json", "both"):
        written.append(out / f"{request_id}.json")
        _write_private(written[-1], json.dumps(document, indent=2, ensure_ascii=False).encode())
    if fmt in ("csv", "both"):
        folder = out / request_id
        folder.mkdir(mode=0o700, exist_ok=True)
        for name, (columns, rows) in tables(document).items():
            written.append(folder / name)
            _write_private(written[-1], csv_text(columns, rows).encode())
    files = [str(path.relative_to(out)) for path in written]
    audit = audit_record("export_written", state["subject"], time.time(), f"{request_id}:written",
                         rule=f"request.{state['type']}", request_id=request_id,
                         details={"file": files[0], "files": ",".join(files), "parts": str(parts),
                                  "stores": ",".join(document["stores"])})
    # the ack of the export's own command id tells the worker to destroy the request's key (docs/rights.md)
    written_ack = lifecycle_ack(state["export"]["written_id"], WRITER, "applied", parts, time.time())
    publish(bootstrap, [(settings.topics.name("privacy.audit.v1"), state["subject"].encode(),
                         json.dumps(audit).encode()),
                        (settings.topics.name("lifecycle.acks.v1"), state["subject"].encode(),
                         json.dumps(written_ack).encode())])
    where = [str(written[0])] if fmt != "csv" else []
    if fmt != "json":
        where.append(f"{out / request_id}/ ({plural(len(written) - len(where), 'CSV table')})")
    print(f"lethe: export of request {request_id} written to {' and '.join(where)} from {plural(parts, 'part')}")
    return 0


def _completed(settings: Settings, bootstrap: str, request_id: str, wait: float) -> dict[str, Any]:
    """The request's state once it is complete (waiting up to ``wait`` seconds)."""
    from streams.cli.rights import _unknown_request
    from streams.requests import read_request_state

    deadline = time.monotonic() + wait
    waiting = False
    while True:
        state = read_request_state(bootstrap, settings, request_id)
        if state is not None and state["type"] not in EXPORT_TYPES:
            raise LetheError(f"request {request_id} is {a_or_an(state['type'])} request; only access and "
                             "portability requests have an export")
        if state is not None and state["status"] == "completed":
            return state
        if time.monotonic() >= deadline:
            if state is None:
                raise LetheError(_unknown_request(settings, request_id))
            raise LetheError(f"request {request_id} is not complete yet (status {state['status']}); "
                             "retry later or pass --wait SECONDS")
        if not waiting:
            print(f"lethe: waiting up to {wait:.0f} s for every store to answer request {request_id} ...",
                  file=sys.stderr, flush=True)
            waiting = True
        time.sleep(2.0)


def _write_private(path: Path, data: bytes) -> None:
    """Write personal data readable by the owner only (0600) from the first byte, over an older file too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, 0o600)   # an existing file keeps its mode on open
        file.write(data)
