"""The destination ("Opbox tables"): DuckDB under OPBOX_HOME by default, PostgreSQL when configured.

Each workspace has its own dataset (schema). A DuckDB file admits one writing process at a time,
so every process that opens it takes an advisory file lock first: exclusive to write, shared to read.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import dlt
from dlt.common.destination import Destination

from resources.settings import Settings

_NON_IDENTIFIER = re.compile(r"[^a-z0-9]+")
_VARIANT_LABEL = re.compile(r"\s*\([^()]*\)\s*$")


def snake_case(text: str) -> str:
    """Lower-case ``text`` and join its words with single underscores (``Production CRM`` → ``production_crm``)."""
    return _NON_IDENTIFIER.sub("_", text.lower()).strip("_") or "unnamed"


def dataset_name(workspace_slug: str) -> str:
    return f"ws_{snake_case(workspace_slug)}"


def table_base_name(connection_name: str, *, own_tables: bool) -> str:
    """Return the table prefix of a connection: its name without a trailing ``(label)`` when shared."""
    name = connection_name if own_tables else _VARIANT_LABEL.sub("", connection_name)
    return snake_case(name)


def table_name(connection_name: str, stream: str, *, own_tables: bool) -> str:
    return f"{table_base_name(connection_name, own_tables=own_tables)}__{snake_case(stream)}"


class NamedForTables(Protocol):
    name: str
    slug: str
    table_prefix: str | None
    config: dict[str, Any]


def connection_table_prefix(connection: NamedForTables) -> str:
    """Return the prefix of a connection's tables.

    Shared tables (the default) use the prefix fixed at creation, which variants copy from their
    source. ``config.createOwnTables`` switches to the connection's own slug, which is unique in
    the workspace and survives renames.
    """
    if (connection.config or {}).get("createOwnTables"):
        return connection.slug
    return connection.table_prefix or table_base_name(connection.name, own_tables=False)


def connection_table(connection: NamedForTables, stream: str) -> str:
    return f"{connection_table_prefix(connection)}__{snake_case(stream)}"


def dlt_destination(settings: Settings) -> Destination:
    if settings.destination_url:
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials()
        credentials.parse_native_representation(settings.destination_url)
        if credentials.password is None:
            # dlt requires a password field; servers with trust or peer authentication have none.
            credentials.password = ""
        return dlt.destinations.postgres(credentials=credentials)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(credentials=str(settings.duckdb_path))


@contextmanager
def duckdb_lock(settings: Settings, *, exclusive: bool) -> Iterator[None]:
    """Hold the DuckDB file's advisory lock; a no-op when the destination is PostgreSQL."""
    if not settings.uses_duckdb:
        yield
        return
    lock_path = Path(f"{settings.duckdb_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def open_connection(settings: Settings, *, read_only: bool) -> Iterator[Any]:
    """Yield a DB-API connection to the destination; DuckDB callers must hold ``duckdb_lock``."""
    if settings.uses_duckdb:
        import duckdb

        if read_only and not settings.duckdb_path.exists():
            connection = duckdb.connect(":memory:")
        else:
            connection = duckdb.connect(str(settings.duckdb_path), read_only=read_only)
    else:
        import psycopg2

        connection = psycopg2.connect(settings.destination_url)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def read_connection(settings: Settings) -> Iterator[Any]:
    """Yield a connection for reading tables, under the shared lock for DuckDB."""
    with duckdb_lock(settings, exclusive=False), open_connection(settings, read_only=True) as db:
        yield db
