"""Run one sync of a connection's selected streams: read, account, load, then commit cursors.

The steps, in order:
1. load the connection and its saved cursors from the app database (the only cursor truth);
2. extract every selected stream into dlt as Arrow pages, reading from the saved cursor inclusive;
3. count created, updated and unchanged keys against the destination before loading;
4. normalise and load with merge on ``(_opbox_connection_id, primary key)``;
5. mark the run COMPLETED and write the newest observed cursors in one transaction.
A failure anywhere leaves the cursors where they were.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dlt

from dlt.extract.resource import DltResource

from connectors.base import Connector, StreamRead, StreamSpec
from opbox_dagster.sync.accounting import StreamCounts, count_changes
from opbox_dagster.sync.connection_context import ConnectionContext
from opbox_dagster.sync.run_records import StreamOutcome
from opbox_dagster.sync.stream_tracker import CONNECTION_ID_COLUMN, StreamTracker
from resources.destination import dlt_destination, duckdb_lock, open_connection, read_connection
from resources.destination_tables import count_rows, list_columns
from resources.settings import Settings

logger = logging.getLogger(__name__)

# dlt keeps no state of its own between runs: the app database holds the cursors.
os.environ.setdefault("RESTORE_FROM_DESTINATION", "false")


@dataclass(frozen=True)
class LoadedStream:
    outcome: StreamOutcome
    columns: list[tuple[str, str]]
    table_rows: int
    load_id: str | None


def _dlt_resource(
    context: ConnectionContext,
    connector: Connector,
    schema: StreamSpec,
    tracker: StreamTracker,
    request: StreamRead,
) -> DltResource:
    pages = tracker.wrap(connector.read(request, schema))
    columns = {}
    if schema.cursor_field:
        columns[schema.cursor_field] = {"dedup_sort": "desc"}
    return dlt.resource(
        pages,
        name=context.table(schema.name),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=[CONNECTION_ID_COLUMN, *schema.primary_key],
        columns=columns,
    )


def sync_streams(
    settings: Settings,
    context: ConnectionContext,
    streams: list[str],
    *,
    run_id: str,
    on_progress: Callable[[str], None] = lambda message: None,
) -> list[LoadedStream]:
    """Load the selected streams and return what each one loaded; the caller commits cursors."""
    connector = context.connector()
    specs = [connector.stream_spec(name) for name in streams]
    schemas = {spec.name: connector.discover_stream(spec) for spec in specs}
    requests = {spec.name: StreamRead(spec, context.saved_cursor(spec.name)) for spec in specs}
    trackers = {spec.name: StreamTracker(spec, context.connection_id) for spec in specs}
    for name, request in requests.items():
        mode = "incremental from " + request.start_cursor.isoformat() if request.start_cursor else "full refresh"
        on_progress(f"stream {name}: {mode}")

    pipelines_dir = Path(settings.home) / "dlt" / run_id
    pipeline = dlt.pipeline(
        pipeline_name=f"opbox_{context.connection_id}",
        pipelines_dir=str(pipelines_dir),
        destination=dlt_destination(settings),
        dataset_name=context.dataset,
    )
    try:
        resources = [
            _dlt_resource(context, connector, schemas[name], trackers[name], requests[name]) for name in streams
        ]
        pipeline.extract(resources)
        for name in streams:
            on_progress(f"stream {name}: read {trackers[name].rows_read} rows")
        pipeline.normalize()
        with duckdb_lock(settings, exclusive=True):
            with open_connection(settings, read_only=False) as db:
                counts = {
                    name: count_changes(db, context.dataset, context.table(name), trackers[name])
                    for name in streams
                }
            load_info = pipeline.load()
        load_id = load_info.loads_ids[0] if load_info.loads_ids else None
        with read_connection(settings) as db:
            return [
                _loaded_stream(db, context, name, trackers[name], counts[name], requests[name], load_id)
                for name in streams
            ]
    finally:
        shutil.rmtree(pipelines_dir, ignore_errors=True)


def _loaded_stream(
    db: object,
    context: ConnectionContext,
    name: str,
    tracker: StreamTracker,
    counts: StreamCounts,
    request: StreamRead,
    load_id: str | None,
) -> LoadedStream:
    table = context.table(name)
    columns = list_columns(db, context.dataset, table)
    table_rows = count_rows(db, context.dataset, table, context.connection_id) if columns else 0
    for warning in request.warnings:
        logger.warning("connection %s stream %s: %s", context.connection_id, name, warning)
    outcome = StreamOutcome(
        stream=name,
        table_name=table,
        rows_synced=counts.synced,
        rows_created=counts.created,
        rows_updated=counts.updated,
        rows_unchanged=counts.unchanged,
        warnings=list(request.warnings),
        cursor=tracker.max_cursor,
    )
    return LoadedStream(outcome, columns, table_rows, load_id)
