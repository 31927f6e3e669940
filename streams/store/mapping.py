"""The mapping file of a store agent: which tables hold which family, subject, record and categories.

    store = "shop-db"                  # the name acks carry
    [tables.orders]
    source = "orders.v1"               # the policy's source whose rows the table holds (or: family = "orders")
    subject_column = "customer_id"
    key_column = "order_id"            # the record key of a command's selector
    [tables.orders.columns]            # column -> data category
    customer_email = "contact.email"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.errors import ConfigError
from processors.policy import CATEGORIES
from processors.sources import FAMILY_NAME, family_of

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass(frozen=True)
class TableMapping:
    table: str
    family: str
    subject_column: str
    key_column: str | None
    columns: dict[str, str]   # column -> category

    def columns_for(self, categories: set[str]) -> list[str]:
        return [column for column, category in self.columns.items() if category in categories]

    def export_columns(self, categories: Collection[str]) -> list[str] | None:
        """The columns an export command reads: every one (None) when it names no category (access);
        else the key column and the columns mapped to its categories (portability: what the subject
        provided), in the mapping's order. A column the mapping does not categorize is not among them."""
        if not categories:
            return None
        return list(dict.fromkeys([*([self.key_column] if self.key_column else []),
                                   *self.columns_for(set(categories))]))


@dataclass(frozen=True)
class StoreMapping:
    store: str
    tables: tuple[TableMapping, ...]

    def for_family(self, family: str) -> list[TableMapping]:
        return [t for t in self.tables if t.family == family]


def load_mapping(path: Path) -> StoreMapping:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"store mapping {path}: cannot read it ({exc})") from None
    return parse_mapping(data, str(path))


def parse_mapping(data: dict[str, Any], origin: str) -> StoreMapping:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"store mapping {origin}: {message}")

    store = data.get("store")
    if not isinstance(store, str) or not store:
        raise fail("'store' must name the store (acks carry it)")
    raw_tables = data.get("tables")
    if not isinstance(raw_tables, dict) or not raw_tables:
        raise fail("[tables] must declare at least one table")
    tables = []
    for table, spec in raw_tables.items():
        where = f'tables."{table}"'
        if not _IDENTIFIER.match(table) or not isinstance(spec, dict):
            raise fail(f"{where}: a table name ([schema.]name) with a table of settings")
        family: Any = spec.get("family")
        if isinstance(spec.get("source"), str) and family is None:
            family = family_of(spec["source"])
        if not isinstance(family, str) or not FAMILY_NAME.match(family) or family in ("consent", "requests"):
            raise fail(f"{where}: give source = \"<topic>\" (a source of the policy) or family = its topic "
                       "without .vN (orders, logs, ...); family must be lowercase letters, digits, . _ -")
        subject, key = spec.get("subject_column"), spec.get("key_column")
        columns = spec.get("columns", {})
        for name in [subject, *([key] if key is not None else []), *columns]:
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                raise fail(f"{where}: {name!r} is not a column name")
        for column, category in columns.items():
            if category not in CATEGORIES:
                raise fail(f"{where}.columns.{column} = {category!r}: not a data category")
        tables.append(TableMapping(table, family, str(subject), key, dict(columns)))
    return StoreMapping(store, tuple(tables))
