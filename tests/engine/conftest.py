"""An in-process sync engine on DuckDB and on PostgreSQL (app database and destination)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.harness import Engine, start_engine


@pytest.fixture(params=["duckdb", "postgres"])
def engine(
    request: pytest.FixtureRequest,
    opbox_home: Path,
    postgres_database: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Engine:
    if request.param == "postgres":
        monkeypatch.setenv("OPBOX_DATABASE_URL", postgres_database("app"))
        monkeypatch.setenv("OPBOX_DESTINATION_URL", postgres_database("destination"))
    return start_engine()
