"""Shared fixtures: one embedded broker per session; tests make their own topics with a prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REPO

from streams.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return REPO / "schemas" / "examples"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store database: an SQLite file, then a new PostgreSQL database (dropped afterwards)."""
    from support import store_database

    with store_database(request.param, tmp_path) as url:
        yield url
