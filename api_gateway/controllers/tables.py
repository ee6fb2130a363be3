"""Destination tables of a connection: a summary per stream and pages of the connection's rows.

Tables live in the workspace's dataset. Variants share a table unless their config sets
``createOwnTables``, so every read filters on the ``_opbox_connection_id`` column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select
from sqlalchemy.orm import Session

from api_gateway.auth import Caller, requires_role
from api_gateway.serializers import format_timestamp, pagination_json
from connectors.base import Connector, StreamSpec
from connectors.errors import ConnectorError, UnknownStream
from connectors.registry import connector_class
from resources.app_db.models import Connection, SyncRun
from resources.app_db.session import session_scope
from resources.destination import connection_table, dataset_name, read_connection
from resources.destination_tables import count_rows, list_columns, read_rows
from resources.services.connections import get_connection
from resources.services.errors import ValidationFailed
from resources.settings import Settings

DEFAULT_ROWS_LIMIT = 100
MAX_ROWS_LIMIT = 1000
# Number of run records fetched per batch while looking for each stream's last completed sync.
RUN_SCAN_BATCH = 100


def connection_table_name(connection: Connection, stream: str) -> str:
    return connection_table(connection, stream)


def last_synced_by_stream(session: Session, connection: Connection, streams: list[str]) -> dict[str, datetime]:
    """Return the completion time of the newest COMPLETED run that loaded each stream."""
    found: dict[str, datetime] = {}
    rows = session.execute(
        select(SyncRun.completed_at, SyncRun.stream_stats)
        .where(
            SyncRun.connection_id == connection.id,
            SyncRun.workspace_id == connection.workspace_id,
            SyncRun.status == "COMPLETED",
        )
        .order_by(SyncRun.completed_at.desc())
        .execution_options(yield_per=RUN_SCAN_BATCH)
    )
    for completed_at, stream_stats in rows:
        for stream in stream_stats or {}:
            if completed_at is not None:
                found.setdefault(stream, completed_at)
        if all(stream in found for stream in streams):
            break
    return found


def describe_tables(
    settings: Settings, session: Session, connection: Connection, workspace_slug: str
) -> list[dict[str, Any]]:
    """Summarise the table of each declared stream. A table not created yet has no columns and 0 rows."""
    try:
        connector = connector_class(connection.type)
    except ConnectorError:
        return []
    streams = [stream.name for stream in connector.streams]
    synced_at = last_synced_by_stream(session, connection, streams)
    dataset = dataset_name(workspace_slug)
    tables = []
    with read_connection(settings) as db:
        for stream in streams:
            table = connection_table_name(connection, stream)
            columns = list_columns(db, dataset, table)
            tables.append(
                {
                    "stream": stream,
                    "tableName": table,
                    "columns": [{"name": name, "type": data_type} for name, data_type in columns],
                    "rowCount": count_rows(db, dataset, table, connection.id) if columns else 0,
                    "lastSyncedAt": format_timestamp(synced_at.get(stream)),
                }
            )
    return tables


def declared_stream(connector: type[Connector], stream: str) -> StreamSpec:
    try:
        return connector.stream_spec(stream)
    except UnknownStream as error:
        raise ValidationFailed(
            str(error), field="stream", validStreams=[item.name for item in connector.streams]
        ) from error


class TablesController(Controller):
    path = "/connections/{connection_id:str}/tables"
    tags = ["tables"]

    @get(
        "/{stream:str}/rows",
        guards=[requires_role("VIEWER")],
        sync_to_thread=True,
        summary="Read a page of the connection's rows of one stream, ordered by primary key",
    )
    def read_stream_rows(
        self,
        connection_id: FromPath[str],
        stream: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_ROWS_LIMIT, description="Page size")
        ] = DEFAULT_ROWS_LIMIT,
        offset: Annotated[int, QueryParameter(ge=0, description="Number of rows to skip")] = 0,
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            spec = declared_stream(connector_class(connection.type), stream)
            table = connection_table_name(connection, stream)
        dataset = dataset_name(caller.workspace_slug)
        with read_connection(settings) as db:
            columns = list_columns(db, dataset, table)
            total = count_rows(db, dataset, table, connection_id) if columns else 0
            rows = (
                read_rows(
                    db,
                    dataset,
                    table,
                    connection_id=connection_id,
                    limit=limit,
                    offset=offset,
                    order_by=spec.primary_key,
                )
                if columns
                else []
            )
        return {
            "stream": stream,
            "tableName": table,
            "columns": [{"name": name, "type": data_type} for name, data_type in columns],
            "rows": rows,
            "pagination": pagination_json(limit=limit, offset=offset, total=total),
        }
