"""Exact run accounting: which loaded keys are new, which changed and which were repeats.

Counting happens before the load, against the table as it was: a key absent from the table is
created; a key present with another cursor value is updated; a key present with the same cursor
value is an unchanged repeat (inclusive cursors re-read the records at the saved value). Streams
without a cursor field count every present key as updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import DELETED_AT_COLUMN
from opbox_dagster.sync.stream_tracker import DELETED, KEY, VERSION, StreamTracker
from resources.destination_tables import existing_versions, is_duckdb, list_columns, quote


@dataclass(frozen=True)
class StreamCounts:
    created: int
    updated: int
    unchanged: int
    # Keys newly marked deleted; they are also counted in ``updated``.
    deleted: int = 0

    @property
    def synced(self) -> int:
        return self.created + self.updated


def _count_in_duckdb(db: Any, table_ref: str, tracker: StreamTracker, incoming: pa.Table) -> StreamCounts:
    key = quote(tracker.key_column)
    version = quote(tracker.stream.cursor_field) if tracker.stream.cursor_field else None
    was_deleted = f"(t.{quote(DELETED_AT_COLUMN)} IS NOT NULL)"
    changed = f"t.{version} IS DISTINCT FROM i.{VERSION}" if version else "TRUE"
    changed = f"({changed} OR {was_deleted} <> i.{DELETED})"
    db.register("opbox_incoming", incoming)
    try:
        created, updated, unchanged, deleted = db.execute(
            f"""
            SELECT
                count(*) FILTER (WHERE t.{key} IS NULL),
                count(*) FILTER (WHERE t.{key} IS NOT NULL AND {changed}),
                count(*) FILTER (WHERE t.{key} IS NOT NULL AND NOT {changed}),
                count(*) FILTER (WHERE t.{key} IS NOT NULL AND i.{DELETED} AND NOT {was_deleted})
            FROM opbox_incoming i
            LEFT JOIN (SELECT * FROM {table_ref} WHERE _opbox_connection_id = ?) t ON t.{key} = i.{KEY}
            """,
            [tracker.connection_id],
        ).fetchall()[0]
    finally:
        db.unregister("opbox_incoming")
    return StreamCounts(int(created), int(updated), int(unchanged), int(deleted))


def _count_in_python(db: Any, dataset: str, table: str, tracker: StreamTracker, incoming: pa.Table) -> StreamCounts:
    stored = existing_versions(
        db,
        dataset,
        table,
        connection_id=tracker.connection_id,
        key_column=tracker.key_column,
        version_column=tracker.stream.cursor_field or tracker.key_column,
        keys=incoming.column(KEY),
    )
    created = incoming.num_rows - len(stored)
    keys = incoming.column(KEY).to_pylist()
    versions = dict(zip(keys, incoming.column(VERSION).to_pylist()))
    deleted_now = dict(zip(keys, incoming.column(DELETED).to_pylist()))
    unchanged = deleted = 0
    for key, (version, deleted_at) in stored.items():
        was_deleted = deleted_at is not None
        if tracker.stream.cursor_field is not None and version == versions.get(key) and was_deleted == deleted_now.get(key):
            unchanged += 1
        if deleted_now.get(key) and not was_deleted:
            deleted += 1
    return StreamCounts(created, len(stored) - unchanged, unchanged, deleted)


def count_changes(db: Any, dataset: str, table: str, tracker: StreamTracker) -> StreamCounts:
    """Count created, updated and unchanged keys of this run against the table before loading."""
    incoming = tracker.incoming_versions()
    if incoming.num_rows == 0:
        return StreamCounts(0, 0, 0)
    if not list_columns(db, dataset, table):
        return StreamCounts(incoming.num_rows, 0, 0)
    if pc.count(incoming.column(KEY), mode="only_null").as_py():
        raise ValueError(f"stream {tracker.stream.name!r} returned records without a primary key value")
    if is_duckdb(db):
        return _count_in_duckdb(db, f"{quote(dataset)}.{quote(table)}", tracker, incoming)
    return _count_in_python(db, dataset, table, tracker, incoming)
