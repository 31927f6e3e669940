"""Helpers every command group uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from processors.errors import LetheError
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
    sources = [(str(f), f.read_text(encoding="utf-8")) for f in files] or [("stdin", sys.stdin.read())]
    for name, text in sources:
        stripped = text.strip()
        if not stripped:
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            try:
                data = [json.loads(line) for line in stripped.splitlines() if line.strip()]
            except json.JSONDecodeError as exc:
                raise LetheError(f"{name}: neither JSON nor JSON lines (line {exc.lineno})") from None
        yield from data if isinstance(data, list) else [data]
