"""Fixtures shared by the whole suite: an isolated OPBOX_HOME and throwaway PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

POSTGRES_ADMIN_URL = os.environ.get("OPBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def opbox_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every setting at a fresh folder, with private base URLs allowed for the emulators."""
    home = tmp_path / "opbox"
    for name in list(os.environ):
        if name.startswith("OPBOX_") or name == "DAGSTER_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPBOX_HOME", str(home))
    monkeypatch.setenv("OPBOX_ALLOW_PRIVATE_NETWORK", "1")
    monkeypatch.setenv("OPBOX_SECRET_KEY", "test-secret-key-" + uuid.uuid4().hex)
    return home


def _admin_connection() -> psycopg2.extensions.connection:
    try:
        connection = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as error:
        # These tests must run in CI, never skip: a missing server is a failure.
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    connection.autocommit = True
    return connection


@pytest.fixture
def postgres_database() -> Iterator[Callable[[str], str]]:
    """Return a factory of uniquely named databases (URL per call), all dropped afterwards."""
    created: list[str] = []

    def create(purpose: str) -> str:
        name = f"opbox_test_{purpose}_{uuid.uuid4().hex[:10]}"
        with _admin_connection() as connection, connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield create

    connection = _admin_connection()
    with connection.cursor() as cursor:
        for name in created:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()
