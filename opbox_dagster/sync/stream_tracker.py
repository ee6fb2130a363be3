"""Per-stream bookkeeping while records stream through: row count, newest cursor, key versions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import StreamSpec

CONNECTION_ID_COLUMN = "_opbox_connection_id"
KEY = "key"
VERSION = "version"
DELETED = "deleted"


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass
class StreamTracker:
    """Watches one stream's Arrow pages on their way into dlt.

    It keeps each page's primary keys and cursor values as Arrow arrays, so the accounting step
    can tell new keys from changed ones and from unchanged repeats without a Python loop per row.
    """

    stream: StreamSpec
    connection_id: str
    rows_read: int = 0
    max_cursor: datetime | None = None
    _keys: list[pa.Array] = field(default_factory=list)
    _versions: list[pa.Array] = field(default_factory=list)
    _deleted: list[pa.Array] = field(default_factory=list)

    @property
    def key_column(self) -> str:
        return self.stream.primary_key[0]

    def observe(self, table: pa.Table, *, deleted: bool = False) -> pa.Table:
        """Record the page's keys, cursor values and deletion flags; tag rows with the connection id."""
        self.rows_read += table.num_rows
        self._keys.append(table.column(self.key_column).combine_chunks())
        self._deleted.append(pa.array([deleted] * table.num_rows, type=pa.bool_()))
        cursor_field = self.stream.cursor_field
        if cursor_field is not None:
            cursor_values = table.column(cursor_field).combine_chunks()
            self._versions.append(cursor_values)
            page_max = pc.max(cursor_values).as_py()
            if page_max is not None:
                page_max = as_utc(page_max)
                if self.max_cursor is None or page_max > self.max_cursor:
                    self.max_cursor = page_max
        return self.tag(table)

    def _mark_keys_required(self, table: pa.Table) -> pa.Table:
        # dlt declares merge-key columns NOT NULL; the Arrow schema must agree or dlt warns per page.
        key_columns = {CONNECTION_ID_COLUMN, *self.stream.primary_key}
        schema = pa.schema(
            [item.with_nullable(False) if item.name in key_columns else item for item in table.schema]
        )
        return pa.Table.from_arrays(table.columns, schema=schema)

    def tag(self, table: pa.Table) -> pa.Table:
        """Add the connection id column to a table without recording anything."""
        tagged = table.append_column(
            CONNECTION_ID_COLUMN, pa.array([self.connection_id] * table.num_rows, type=pa.string())
        )
        return self._mark_keys_required(tagged)

    def incoming_versions(self) -> pa.Table:
        """Return one row per distinct key: its newest cursor value (null without a cursor field)
        and whether the provider reported it deleted."""
        if not self._keys:
            return pa.table(
                {KEY: pa.array([], pa.string()), VERSION: pa.array([], pa.null()), DELETED: pa.array([], pa.bool_())}
            )
        keys = pa.concat_arrays(self._keys)
        versions = pa.concat_arrays(self._versions) if self._versions else pa.nulls(len(keys), pa.int64())
        table = pa.table({KEY: keys, VERSION: versions, DELETED: pa.concat_arrays(self._deleted)})
        grouped = table.group_by(KEY).aggregate([(VERSION, "max"), (DELETED, "any")])
        return grouped.select([KEY, f"{VERSION}_max", f"{DELETED}_any"]).rename_columns([KEY, VERSION, DELETED])
