"""Fixtures shared by the whole suite: an isolated OPBOX_HOME and throwaway PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

POSTGRES_ADMIN_URL = os.environ.get("OPBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def isolated_environment(folder: Path) -> Iterator[pytest.MonkeyPatch]:
    """Clear every Opbox setting and point OPBOX_HOME at ``folder``; emulators' loopback URLs are allowed."""
    with pytest.MonkeyPatch.context() as environment:
        for name in list(os.environ):
            if name.startswith("OPBOX_") or name == "DAGSTER_HOME":
                environment.delenv(name)
        environment.setenv("OPBOX_HOME", str(folder / "opbox"))
        environment.setenv("OPBOX_ALLOW_PRIVATE_NETWORK", "1")
        environment.setenv("OPBOX_SECRET_KEY", "test-secret-key-" + uuid.uuid4().hex)
        yield environment


def _admin_connection() -> psycopg2.extensions.connection:
    try:
        connection = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as error:
        # These tests must run in CI, never skip: a missing server is a failure.
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    connection.autocommit = True
    return connection


@contextmanager
def postgres_databases() -> Iterator[Callable[[str], str]]:
    """Yield a factory of uniquely named databases (one URL per call), all dropped afterwards."""
    created: list[str] = []

    def create(purpose: str) -> str:
        name = f"opbox_test_{purpose}_{uuid.uuid4().hex[:10]}"
        connection = _admin_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        created.append(name)
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield create
    finally:
        if created:
            connection = _admin_connection()
            with connection.cursor() as cursor:
                for name in created:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.close()


@pytest.fixture
def opbox_home(tmp_path: Path) -> Iterator[Path]:
    with isolated_environment(tmp_path):
        yield tmp_path / "opbox"


@pytest.fixture
def postgres_database() -> Iterator[Callable[[str], str]]:
    with postgres_databases() as create:
        yield create
