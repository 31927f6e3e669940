"""Helpers every command group uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from processors.errors import LetheError
from streams.exceptions import UsageError
from streams.kafka import check_reachable
from streams.settings import Settings

if TYPE_CHECKING:
    from processors.inputs import Inputs


def _bootstrap() -> str:
    settings = Settings.from_env()
    if settings.bootstrap_servers is None:
        raise LetheError("set LETHE_BOOTSTRAP_SERVERS (e.g. the address `lethe broker` prints)")
    check_reachable(settings.bootstrap_servers)
    return settings.bootstrap_servers


def _inputs(settings: Settings) -> Inputs:
    """The decoders of the inputs the CLI publishes to, as the worker will read them."""
    from processors.inputs import Inputs
    from processors.schemas import SchemaCatalog

    return Inputs(SchemaCatalog.load(settings.schemas_dir))


def _read_events(files: list[Path]) -> Iterator[Any]:
    """The events of each file (a JSON document, or JSON lines), or of stdin when no file is given."""
    sources = [(str(f), _read_text(f)) for f in files] or [("stdin", sys.stdin.read())]
    for name, text in sources:
        if not text.strip():
            continue
        yield from _parse(name, text)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a file of JSON events") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None


def _parse(name: str, text: str) -> list[Any]:
    """A JSON document, or JSON lines; a mistake is reported by file, line and column (never its text)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as document_error:
        lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2 or not _is_json(lines[0][1]):
            raise _json_error(name, document_error.lineno, document_error.colno, document_error.msg) from None
        data = []
        for number, line in lines:
            try:
                data.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _json_error(name, number, exc.colno, exc.msg) from None
    return data if isinstance(data, list) else [data]


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _json_error(name: str, line: int, column: int, reason: str) -> UsageError:
    return UsageError(f"{name}, line {line}, column {column}: not valid JSON ({reason}); "
                      "give a JSON object, a JSON array or JSON lines")
