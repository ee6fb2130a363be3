"""The body of every connection's multi-asset: one sync run of the selected streams."""

from __future__ import annotations

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, MetadataValue, TableColumn, TableSchema
from dagster._core.errors import DagsterExecutionInterruptedError

from opbox_dagster import tags
from opbox_dagster.sync.connection_context import ConnectionContext, load_connection_context
from opbox_dagster.sync.execute import RunStopped, SyncFailed, execute_sync
from opbox_dagster.sync.run_records import ConnectionBusy, create_run
from opbox_dagster.sync.runner import LoadedStream
from resources.settings import Settings, load_settings


def _sync_run_id(context: AssetExecutionContext, settings: Settings, connection_id: str, workspace_id: str, streams: list[str]) -> str:
    """Return the run record of this Dagster run, creating one for runs started outside the gateway."""
    existing = context.run.tags.get(tags.SYNC_RUN_ID)
    if existing:
        return existing
    try:
        return create_run(
            settings,
            connection_id=connection_id,
            workspace_id=workspace_id,
            trigger=context.run.tags.get(tags.TRIGGER, "MANUAL"),
            streams=streams,
            dagster_run_id=context.run_id,
        )
    except ConnectionBusy as busy:
        raise Failure(f"{busy}; this run was skipped so the connection never syncs twice at once") from None


def _is_interruption(error: BaseException) -> bool:
    return isinstance(error, (KeyboardInterrupt, DagsterExecutionInterruptedError))


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
                "dagster/column_schema": TableSchema(columns=[TableColumn(name, data_type) for name, data_type in item.columns]),
                "dlt_load_id": MetadataValue.text(item.load_id or ""),
                "warnings": MetadataValue.int(len(outcome.warnings)),
                "cursor": MetadataValue.text(outcome.cursor.isoformat() if outcome.cursor else ""),
                "opbox_sync_run_id": MetadataValue.text(sync_run_id),
            },
        )


def run_sync_step(context: AssetExecutionContext, connection_id: str, workspace_id: str) -> Iterator[MaterializeResult]:
    settings = load_settings()
    streams = [key.path[-1] for key in sorted(context.selected_asset_keys, key=lambda key: key.path)]
    sync_run_id = _sync_run_id(context, settings, connection_id, workspace_id, streams)
    context.log.info(f"sync run {sync_run_id}: connection {connection_id}, streams {', '.join(streams)}")
    try:
        loaded = execute_sync(
            settings,
            sync_run_id=sync_run_id,
            connection_id=connection_id,
            streams=streams,
            dagster_run_id=context.run_id,
            on_progress=context.log.info,
            is_interruption=_is_interruption,
        )
    except (RunStopped, SyncFailed) as error:
        raise Failure(description=str(error)) from None
    yield from _materializations(load_connection_context(settings, connection_id), loaded, sync_run_id)
