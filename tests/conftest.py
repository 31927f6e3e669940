"""Shared fixtures: one embedded broker per session (and one behind TLS); tests make their own topics with a prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REPO
from tls_proxy import TlsBroker

from streams.broker import EmbeddedBroker


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """LETHE_DATA_DIR of the test process and of the `lethe` commands it starts without one of their own:
    a directory of this process, not the default .lethe in the repository, which every xdist worker
    would share (and race to make a pseudonym key in)."""
    path = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LETHE_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """An embedded broker reachable over TLS only, through stunnel (tests/tls_proxy.py)."""
    with TlsBroker(tmp_path_factory.mktemp("tls")) as running:
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
