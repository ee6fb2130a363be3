"""Per-stream bookkeeping while records stream through: row count, newest cursor, key versions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import StreamSpec

CONNECTION_ID_COLUMN = "_opbox_connection_id"


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass
class StreamTracker:
    """Watches one stream's Arrow pages on their way into dlt.

    ``versions`` maps each primary key to the cursor value of its newest record in this run, so
    the accounting step can tell new keys from changed ones and from unchanged repeats.
    """

    stream: StreamSpec
    connection_id: str
    rows_read: int = 0
    max_cursor: datetime | None = None
    versions: dict[Any, Any] = field(default_factory=dict)

    @property
    def key_column(self) -> str:
        return self.stream.primary_key[0]

    def observe(self, table: pa.Table) -> pa.Table:
        """Record the page's keys and cursor values and tag its rows with the connection id."""
        self.rows_read += table.num_rows
        keys = table.column(self.key_column).to_pylist()
        cursor_field = self.stream.cursor_field
        if cursor_field is None:
            self.versions.update(dict.fromkeys(keys))
        else:
            cursor_values = table.column(cursor_field)
            page_max = pc.max(cursor_values).as_py()
            if page_max is not None:
                page_max = as_utc(page_max)
                if self.max_cursor is None or page_max > self.max_cursor:
                    self.max_cursor = page_max
            for key, version in zip(keys, cursor_values.to_pylist()):
                previous = self.versions.get(key)
                if previous is None or (version is not None and version >= previous):
                    self.versions[key] = version
        tagged = table.append_column(
            CONNECTION_ID_COLUMN, pa.array([self.connection_id] * table.num_rows, type=pa.string())
        )
        return self._mark_keys_required(tagged)

    def _mark_keys_required(self, table: pa.Table) -> pa.Table:
        # dlt declares merge-key columns NOT NULL; the Arrow schema must agree or dlt warns per page.
        key_columns = {CONNECTION_ID_COLUMN, *self.stream.primary_key}
        schema = pa.schema(
            [item.with_nullable(False) if item.name in key_columns else item for item in table.schema]
        )
        return pa.Table.from_arrays(table.columns, schema=schema)

    def wrap(self, pages: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for page in pages:
            if page.num_rows:
                yield self.observe(page)
