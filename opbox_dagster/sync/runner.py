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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa

from dlt.extract.resource import DltResource

from connectors.arrow_records import arrow_schema
from connectors.base import DELETED_AT_COLUMN, Connector, StreamRead, StreamSpec
from opbox_dagster.sync.accounting import StreamCounts, count_changes
from opbox_dagster.sync.connection_context import ConnectionContext
from opbox_dagster.sync.run_records import StreamOutcome
from opbox_dagster.sync.schema_evolution import normalise_names, reconcile_with_table
from opbox_dagster.sync.stream_tracker import CONNECTION_ID_COLUMN, StreamTracker
from resources.destination import dlt_destination, duckdb_lock, open_connection, read_connection
from resources.destination_tables import count_rows, list_columns
from resources.settings import Settings

logger = logging.getLogger(__name__)

# dlt keeps no state of its own between runs, because the app database stores the cursors.
os.environ.setdefault("RESTORE_FROM_DESTINATION", "false")
DELETED_AT_TYPE = pa.timestamp("us", tz="UTC")
# How far the provider's clock may run behind ours; the catch-up after a full refresh starts this
# much before the run began.
CLOCK_SKEW_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class LoadedStream:
    outcome: StreamOutcome
    columns: list[tuple[str, str]]
    table_rows: int
    load_id: str | None


def _reads(request: StreamRead, started_at: datetime) -> list[StreamRead]:
    """Return the reads of one stream: the requested one, plus a catch-up after a full refresh.

    A full refresh pages in id order, so a record that changes after its page was read is not
    seen again, while records changed later may raise the observed cursor past it. The catch-up
    reads incrementally from the run's start (less a clock-skew margin) and picks such records up.
    """
    schema = request.stream
    if request.start_cursor is not None or "incremental" not in schema.sync_modes or not schema.cursor_field:
        return [request]
    return [request, StreamRead(schema, started_at - CLOCK_SKEW_MARGIN, request.warnings)]


def _stream_tables(
    connector: Connector, request: StreamRead, tracker: StreamTracker, started_at: datetime
) -> Iterator[pa.Table]:
    """Yield the stream's live records, then the ones the provider reports deleted.

    A stream that returns nothing still yields one empty table, so its table and declared
    columns exist after the first sync.
    """
    schema = request.stream
    empty = True
    for read in _reads(request, started_at):
        for table in connector.read(read, schema):
            if table.num_rows:
                empty = False
                yield tracker.observe(table.append_column(DELETED_AT_COLUMN, pa.nulls(table.num_rows, DELETED_AT_TYPE)))
    for table in connector.read_deleted(request, schema):
        if table.num_rows:
            empty = False
            yield tracker.observe(table, deleted=True)
    if empty:
        columns = arrow_schema(schema.fields).append(pa.field(DELETED_AT_COLUMN, DELETED_AT_TYPE))
        yield tracker.tag(columns.empty_table())


def _dlt_resource(
    context: ConnectionContext, connector: Connector, request: StreamRead, tracker: StreamTracker, started_at: datetime
) -> DltResource:
    schema = request.stream
    columns: dict[str, Any] = {}
    if schema.cursor_field:
        # When a record changes during the run and is read twice, its newest version wins.
        columns[schema.cursor_field] = {"dedup_sort": "desc"}
    return dlt.resource(
        _stream_tables(connector, request, tracker, started_at),
        name=context.table(schema.name),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=[CONNECTION_ID_COLUMN, *schema.primary_key],
        columns=columns,
    )


def _resolve_schemas(settings: Settings, context: ConnectionContext, connector: Connector, streams: list[str]) -> dict[str, StreamSpec]:
    """Discover each stream's fields, normalise their names and reconcile them with its table."""
    discovered = {name: normalise_names(connector.discover_stream(connector.stream_spec(name))) for name in streams}
    with read_connection(settings) as db:
        return {
            name: reconcile_with_table(schema, list_columns(db, context.dataset, context.table(name)))
            for name, schema in discovered.items()
        }


def sync_streams(
    settings: Settings,
    context: ConnectionContext,
    streams: list[str],
    *,
    run_id: str,
    on_progress: Callable[[str], None] = lambda message: None,
) -> list[LoadedStream]:
    """Load the selected streams and return what each one loaded; the caller commits cursors."""
    started_at = datetime.now(timezone.utc)
    connector = context.connector()
    schemas = _resolve_schemas(settings, context, connector, streams)
    requests = {name: StreamRead(schemas[name], context.saved_cursor(name)) for name in streams}
    trackers = {name: StreamTracker(schemas[name], context.connection_id) for name in streams}
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
        pipeline.extract(
            [_dlt_resource(context, connector, requests[name], trackers[name], started_at) for name in streams]
        )
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
        rows_deleted=counts.deleted,
        warnings=list(request.warnings),
        cursor=tracker.max_cursor,
    )
    return LoadedStream(outcome, columns, table_rows, load_id)
