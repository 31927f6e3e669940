"""The SQLAlchemy store adapter: any database SQLAlchemy reaches (SQLite and PostgreSQL tested)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from streams.store.apply import apply_command, apply_commands, export_rows, prepare
from streams.store.base import StoreAdapter, StoreUnavailable
from streams.store.mapping import StoreMapping


class SqlAlchemyStore(StoreAdapter):
    def __init__(self, url: str, mapping: StoreMapping) -> None:
        super().__init__(url, mapping)
        self.engine = create_engine(url)

    def prepare(self) -> None:
        try:
            prepare(self.engine)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the store database does not answer ({type(exc).__name__})") from None

    def apply(self, command: Mapping[str, Any]) -> dict[str, Any]:
        return apply_command(self.engine, self.mapping, command)

    def apply_batch(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        try:
            return apply_commands(self.engine, self.mapping, commands)
        except SQLAlchemyError:   # rolled back: one by one, so that the failing command fails alone
            return super().apply_batch(commands)

    def export_rows(self, command: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            return export_rows(self.engine, self.mapping, command)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"database error ({type(exc).__name__})") from None

    def close(self) -> None:
        self.engine.dispose()
