"""The body of every connection's multi-asset: one sync run of the selected streams."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
)
from dagster._core.errors import DagsterExecutionInterruptedError

from connectors.errors import ConnectorError
from connectors.http import mask_secrets
from opbox_dagster import tags
from opbox_dagster.sync.connection_context import ConnectionContext, load_connection_context
from opbox_dagster.sync.run_records import complete_run, create_run, fail_run, start_run
from opbox_dagster.sync.runner import LoadedStream, sync_streams
from resources.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def _sync_run_id(context: AssetExecutionContext, settings: Settings, connection_id: str, workspace_id: str, streams: list[str]) -> str:
    """Return the run record of this Dagster run, creating one for runs started outside the gateway."""
    existing = context.run.tags.get(tags.SYNC_RUN_ID)
    if existing:
        return existing
    trigger = context.run.tags.get(tags.TRIGGER, "MANUAL")
    return create_run(
        settings,
        connection_id=connection_id,
        workspace_id=workspace_id,
        trigger=trigger,
        streams=streams,
        dagster_run_id=context.run_id,
    )


def _materializations(connection: ConnectionContext, loaded: list[LoadedStream], sync_run_id: str) -> Iterator[MaterializeResult]:
    for item in loaded:
        outcome = item.outcome
        yield MaterializeResult(
            asset_key=AssetKey([connection.workspace_slug, connection.slug, outcome.stream]),
            metadata={
                "table_name": MetadataValue.text(f"{connection.dataset}.{outcome.table_name}"),
                "rows_synced": MetadataValue.int(outcome.rows_synced),
                "rows_created": MetadataValue.int(outcome.rows_created),
                "rows_updated": MetadataValue.int(outcome.rows_updated),
                "rows_unchanged": MetadataValue.int(outcome.rows_unchanged),
                "dagster/row_count": MetadataValue.int(item.table_rows),
                "dagster/column_schema": TableSchema(
                    columns=[TableColumn(name, data_type) for name, data_type in item.columns]
                ),
                "dlt_load_id": MetadataValue.text(item.load_id or ""),
                "warnings": MetadataValue.int(len(outcome.warnings)),
                "cursor": MetadataValue.text(outcome.cursor.isoformat() if outcome.cursor else ""),
                "opbox_sync_run_id": MetadataValue.text(sync_run_id),
            },
        )


def _connector_error(error: BaseException) -> ConnectorError | None:
    """Find a connector error under the wrappers dlt adds around extraction failures."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectorError):
            return current
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def run_sync_step(
    context: AssetExecutionContext, connection_id: str, workspace_id: str
) -> Iterator[MaterializeResult]:
    settings = load_settings()
    streams = [key.path[-1] for key in sorted(context.selected_asset_keys, key=lambda key: key.path)]
    sync_run_id = _sync_run_id(context, settings, connection_id, workspace_id, streams)
    context.log.info(f"sync run {sync_run_id}: connection {connection_id}, streams {', '.join(streams)}")
    if not start_run(settings, sync_run_id, context.run_id):
        raise Failure(f"sync run {sync_run_id} was stopped before it started; nothing was loaded")

    secrets: tuple[str, ...] = ()
    try:
        connection = load_connection_context(settings, connection_id)
        secrets = tuple(str(value) for value in connection.credentials.values())
        loaded = sync_streams(
            settings, connection, streams, run_id=sync_run_id, on_progress=context.log.info
        )
    except (KeyboardInterrupt, DagsterExecutionInterruptedError):
        fail_run(settings, sync_run_id, "the run was stopped", status="CANCELLED")
        raise
    except Exception as error:
        # Every error ends the run record. Connector errors carry a message meant for users; for
        # anything else the type and text are kept, masked because library errors may quote requests.
        cause = _connector_error(error)
        text = str(cause) if cause is not None else f"{type(error).__name__}: {error}"
        message = mask_secrets(text, secrets)
        fail_run(settings, sync_run_id, message)
        raise Failure(description=message) from None

    if not complete_run(settings, sync_run_id, [item.outcome for item in loaded]):
        raise Failure(f"sync run {sync_run_id} was stopped while loading; its cursors were not moved")
    yield from _materializations(connection, loaded, sync_run_id)
