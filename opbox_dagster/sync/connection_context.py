"""Everything a run needs about its connection, loaded once at the start of the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from connectors.base import Connector
from connectors.registry import connector_class
from resources.app_db.models import Connection, Workspace
from resources.app_db.session import session_scope
from resources.destination import connection_table, dataset_name
from resources.instants import parse_instant
from resources.settings import Settings
from resources.vault import load_vault


class ConnectionNotFound(Exception):
    pass


@dataclass(frozen=True)
class ConnectionContext:
    connection_id: str
    workspace_id: str
    workspace_slug: str
    slug: str
    table_prefix: str | None
    name: str
    type: str
    config: dict[str, Any]
    sync_state: dict[str, Any]
    credentials: dict[str, Any]

    @property
    def own_tables(self) -> bool:
        return bool(self.config.get("createOwnTables"))

    @property
    def dataset(self) -> str:
        return dataset_name(self.workspace_slug)

    def table(self, stream: str) -> str:
        return connection_table(self, stream)

    def saved_cursor(self, stream: str) -> datetime | None:
        value = (self.sync_state.get("streams") or {}).get(stream, {}).get("cursor")
        if not value:
            return None
        return parse_instant(str(value))

    def connector(self) -> Connector:
        return connector_class(self.type)(self.credentials, self.config)


def load_connection_context(settings: Settings, connection_id: str) -> ConnectionContext:
    """Read the connection and decrypt its credentials; only the run process ever does this."""
    with session_scope(settings.database_url) as session:
        row = session.execute(
            select(Connection, Workspace.slug)
            .join(Workspace, Workspace.id == Connection.workspace_id)
            .where(Connection.id == connection_id)
        ).first()
        if row is None:
            raise ConnectionNotFound(f"connection {connection_id} does not exist; it may have been deleted")
        connection, workspace_slug = row
        credentials = load_vault(settings).decrypt_json(connection.credentials_encrypted)
        return ConnectionContext(
            connection_id=connection.id,
            workspace_id=connection.workspace_id,
            workspace_slug=workspace_slug,
            slug=connection.slug,
            table_prefix=connection.table_prefix,
            name=connection.name,
            type=connection.type,
            config=dict(connection.config or {}),
            sync_state=dict(connection.sync_state or {"version": 0, "streams": {}}),
            credentials=credentials,
        )
