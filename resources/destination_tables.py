"""Read-side queries on destination tables: columns, row counts, rows and existing row versions.

The same functions serve DuckDB and PostgreSQL connections; only the parameter style differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa


def is_duckdb(connection: Any) -> bool:
    return "duckdb" in type(connection).__module__


def _placeholder(connection: Any) -> str:
    return "?" if is_duckdb(connection) else "%s"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _fetch(connection: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    if is_duckdb(connection):
        # A DuckDB cursor is a separate connection that would not see registered Arrow tables.
        return list(connection.execute(sql, list(params)).fetchall())
    cursor = connection.cursor()
    try:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def list_tables(connection: Any, dataset: str) -> list[str]:
    mark = _placeholder(connection)
    rows = _fetch(
        connection,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = {mark}",
        [dataset],
    )
    return sorted(row[0] for row in rows)


def list_columns(connection: Any, dataset: str, table: str) -> list[tuple[str, str]]:
    """Return ``(column, type)`` pairs in table order; empty when the table does not exist."""
    mark = _placeholder(connection)
    rows = _fetch(
        connection,
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = {mark} AND table_name = {mark} ORDER BY ordinal_position",
        [dataset, table],
    )
    return [(str(name), str(data_type).upper()) for name, data_type in rows]


def count_rows(connection: Any, dataset: str, table: str, connection_id: str | None = None) -> int:
    sql = f"SELECT COUNT(*) FROM {quote(dataset)}.{quote(table)}"
    params: list[Any] = []
    if connection_id is not None:
        sql += f" WHERE _opbox_connection_id = {_placeholder(connection)}"
        params.append(connection_id)
    return int(_fetch(connection, sql, params)[0][0])


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def read_rows(
    connection: Any,
    dataset: str,
    table: str,
    *,
    connection_id: str,
    limit: int,
    offset: int,
    order_by: Sequence[str],
) -> list[dict[str, Any]]:
    """Return one page of a connection's rows as JSON-ready dicts; decimals stay exact strings."""
    columns = [name for name, _ in list_columns(connection, dataset, table)]
    mark = _placeholder(connection)
    order = ", ".join(quote(name) for name in order_by if name in columns) or "1"
    sql = (
        f"SELECT {', '.join(quote(name) for name in columns)} FROM {quote(dataset)}.{quote(table)} "
        f"WHERE _opbox_connection_id = {mark} ORDER BY {order} LIMIT {mark} OFFSET {mark}"
    )
    rows = _fetch(connection, sql, [connection_id, limit, offset])
    return [{name: _json_value(value) for name, value in zip(columns, row)} for row in rows]


def existing_versions(
    connection: Any,
    dataset: str,
    table: str,
    *,
    connection_id: str,
    key_column: str,
    version_column: str,
    keys: pa.Array,
) -> dict[Any, Any]:
    """Return ``{key: (version, deleted at)}`` for the given keys already stored for this connection."""
    if len(keys) == 0:
        return {}
    table_ref = f"{quote(dataset)}.{quote(table)}"
    select = f"SELECT t.{quote(key_column)}, t.{quote(version_column)}, t._opbox_deleted_at FROM {table_ref} t"
    if is_duckdb(connection):
        connection.register("opbox_incoming_keys", pa.table({"key": keys}))
        try:
            rows = _fetch(
                connection,
                f"{select} JOIN opbox_incoming_keys k ON t.{quote(key_column)} = k.key "
                "WHERE t._opbox_connection_id = ?",
                [connection_id],
            )
        finally:
            connection.unregister("opbox_incoming_keys")
    else:
        rows = _fetch(
            connection,
            f"{select} WHERE t._opbox_connection_id = %s AND t.{quote(key_column)} = ANY(%s)",
            [connection_id, keys.to_pylist()],
        )
    return {row[0]: (row[1], row[2]) for row in rows}
