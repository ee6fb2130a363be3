"""Exact run accounting: which loaded keys are new, which changed and which were repeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from opbox_dagster.sync.stream_tracker import StreamTracker, as_utc
from resources.destination_tables import existing_versions, list_columns


@dataclass(frozen=True)
class StreamCounts:
    created: int
    updated: int
    unchanged: int

    @property
    def synced(self) -> int:
        return self.created + self.updated


def _same_version(stored: Any, incoming: Any) -> bool:
    if isinstance(stored, datetime) and isinstance(incoming, datetime):
        return as_utc(stored) == as_utc(incoming)
    return stored == incoming


def count_changes(db: Any, dataset: str, table: str, tracker: StreamTracker) -> StreamCounts:
    """Compare the run's keys with the table before loading.

    A key absent from the table is created; a key present with another cursor value is updated; a
    key present with the same cursor value is an unchanged repeat (the inclusive cursor re-reads the
    boundary records). Streams without a cursor field count every present key as updated.
    """
    if not tracker.versions:
        return StreamCounts(0, 0, 0)
    version_column = tracker.stream.cursor_field
    if not list_columns(db, dataset, table):
        return StreamCounts(len(tracker.versions), 0, 0)
    stored = existing_versions(
        db,
        dataset,
        table,
        connection_id=tracker.connection_id,
        key_column=tracker.key_column,
        version_column=version_column or tracker.key_column,
        keys=pa.array(list(tracker.versions.keys())),
    )
    created = len(tracker.versions) - len(stored)
    if version_column is None:
        return StreamCounts(created, len(stored), 0)
    unchanged = sum(
        1 for key, value in stored.items() if _same_version(value, tracker.versions.get(key))
    )
    return StreamCounts(created, len(stored) - unchanged, unchanged)
