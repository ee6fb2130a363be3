"""The connections the code location is built from, read from the app database at load time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select

from connectors.registry import CATALOGUE
from resources.app_db.models import Connection, Workspace
from resources.app_db.session import get_engine, session_scope
from resources.destination import connection_table
from resources.settings import Settings

logger = logging.getLogger(__name__)
_AVAILABLE_TYPES = {entry.type for entry in CATALOGUE if entry.available}


@dataclass(frozen=True)
class ConnectionEntry:
    connection_id: str
    workspace_id: str
    workspace_slug: str
    connection_slug: str
    table_prefix: str | None
    name: str
    type: str
    enabled: bool
    config: dict[str, Any]
    schedule: dict[str, Any] | None

    @property
    def slug(self) -> str:
        return self.connection_slug

    def table(self, stream: str) -> str:
        return connection_table(self, stream)


def load_connection_entries(settings: Settings) -> list[ConnectionEntry]:
    """Return every connection of an available type; empty before ``opbox init`` has run."""
    if not inspect(get_engine(settings.database_url)).has_table("connections"):
        logger.warning("the app database at %s has no tables yet; run `opbox init`", settings.database_url.split("@")[-1])
        return []
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(Connection, Workspace.slug)
            .join(Workspace, Workspace.id == Connection.workspace_id)
            .order_by(Connection.created_at)
        ).all()
        return [
            ConnectionEntry(
                connection_id=connection.id,
                workspace_id=connection.workspace_id,
                workspace_slug=workspace_slug,
                connection_slug=connection.slug,
                table_prefix=connection.table_prefix,
                name=connection.name,
                type=connection.type,
                enabled=connection.enabled,
                config=dict(connection.config or {}),
                schedule=connection.schedule,
            )
            for connection, workspace_slug in rows
            if connection.type in _AVAILABLE_TYPES
        ]
