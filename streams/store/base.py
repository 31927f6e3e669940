"""Store adapters: how a store agent reaches one database, chosen by the URL's scheme.

A store agent (``lethe store-agent``) applies lifecycle commands to the database at
``LETHE_STORE_URL`` and exports a subject's rows; everything database-specific is behind
:class:`StoreAdapter`. An adapter is one module that subclasses it and registers its URL schemes
with one line in ``ADAPTERS`` below (docs/architecture.md, "Adding a store adapter").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from streams.exceptions import StoreError
from streams.store.mapping import StoreMapping


class StoreAdapter(ABC):
    """One database, as a store agent uses it. Errors are reported by type only (a database
    message can quote a row); a command is applied idempotently (a replay changes nothing)."""

    def __init__(self, url: str, mapping: StoreMapping) -> None:
        self.url, self.mapping = url, mapping

    @abstractmethod
    def prepare(self) -> None:
        """Make the adapter's own bookkeeping ready; raise :class:`StoreUnavailable` while the
        database does not answer (the agent retries)."""

    @abstractmethod
    def apply(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a delete, anonymize or update command; return its ack (schemas/lifecycle.acks.v1.avsc)."""

    def apply_batch(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply delete, anonymize and update commands in order; return their acks, in order.

        Stops after the first ``failed`` ack: the commands after it are not applied (the agent
        retries the failed one, then goes on), so commands apply in the order they were issued.
        This default applies them one by one; an adapter that can apply many in one transaction
        overrides it (and falls back to this when that transaction fails).
        """
        acks: list[dict[str, Any]] = []
        for command in commands:
            acks.append(self.apply(command))
            if acks[-1]["status"] == "failed":
                break
        return acks

    @abstractmethod
    def export_rows(self, command: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The subject's rows that an export command selects, as JSON-ready dicts: every column, or
        with the command's ``categories`` (a portability export) only the mapping's key column and the
        columns it maps to those categories (:meth:`TableMapping.export_columns`).

        Raises :class:`StoreUnavailable` when the database fails (the agent acks failed and retries).
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


class StoreUnavailable(StoreError):
    """The database did not answer or failed a statement; the message names the error type only."""


def _sqlalchemy() -> type[StoreAdapter]:
    from streams.store.sql import SqlAlchemyStore
    return SqlAlchemyStore


# URL scheme (before any "+driver") -> the adapter; imported when first used
ADAPTERS: dict[str, Any] = {
    "sqlite": _sqlalchemy, "postgresql": _sqlalchemy, "mysql": _sqlalchemy, "mariadb": _sqlalchemy,
}


def open_store(url: str, mapping: StoreMapping) -> StoreAdapter:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    factory = ADAPTERS.get(scheme)
    if factory is None:
        raise StoreError(f"LETHE_STORE_URL: no store adapter for scheme {scheme!r} "
                         f"(known: {', '.join(sorted(ADAPTERS))})")
    adapter: StoreAdapter = factory()(url, mapping)
    return adapter
