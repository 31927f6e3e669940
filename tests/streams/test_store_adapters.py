"""Store adapters are chosen by the URL's scheme; an unknown scheme is refused naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.exceptions import StoreError
from streams.store.base import ADAPTERS, StoreAdapter, open_store
from streams.store.mapping import StoreMapping
from streams.store.sql import SqlAlchemyStore


@pytest.mark.parametrize(("url", "adapter"), [
    ("sqlite:///{tmp}/shop.db", SqlAlchemyStore),
    ("sqlite+pysqlite:///{tmp}/shop.db", SqlAlchemyStore),
    ("postgresql+psycopg2://postgres@127.0.0.1:5432/test", SqlAlchemyStore),
])
def test_the_url_scheme_picks_the_adapter(url: str, adapter: type[StoreAdapter], tmp_path: Path) -> None:
    store = open_store(url.format(tmp=tmp_path), StoreMapping("shop-db", ()))
    try:
        assert type(store) is adapter
        assert store.mapping.store == "shop-db"
    finally:
        store.close()


@pytest.mark.parametrize("url", ["mongodb://localhost/shop", "redis://127.0.0.1:6379/0", "nonsense"])
def test_an_unknown_scheme_is_refused_naming_it(url: str) -> None:
    with pytest.raises(StoreError, match="no store adapter for scheme") as caught:
        open_store(url, StoreMapping("shop-db", ()))
    assert repr(url.split(":")[0]) in str(caught.value)
    assert all(scheme in str(caught.value) for scheme in ADAPTERS)
