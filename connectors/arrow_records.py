"""Turn provider records into typed Arrow tables using the stream's declared field types.

Providers often send every value as a string. Each column is cast in one vectorised step; when a
column holds a value that cannot be cast or is out of range, that column is cast value by value and
the bad values become null with a warning naming the row key and field.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.base import FieldSpec, FieldType

logger = logging.getLogger(__name__)

DECIMAL_TYPE = pa.decimal128(38, 9)
ARROW_TYPES: dict[FieldType, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": DECIMAL_TYPE,
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
}


def arrow_type(field_type: FieldType) -> pa.DataType:
    return ARROW_TYPES[field_type]


def arrow_schema(fields: Sequence[FieldSpec]) -> pa.Schema:
    return pa.schema([pa.field(item.name, arrow_type(item.type)) for item in fields])


def _cast_value_by_value(
    values: list[Any],
    target: pa.DataType,
    keys: list[Any],
    field: str,
    warnings: list[str],
) -> pa.Array:
    cast_values: list[Any] = []
    for key, value in zip(keys, values):
        try:
            cast_values.append(pa.array([value]).cast(target)[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError, ValueError):
            warnings.append(f"row {key!r}: field {field!r} value {value!r} is not a valid {target}; stored as null")
            cast_values.append(None)
    return pa.array(cast_values, type=target)


def build_column(
    values: list[Any],
    target: pa.DataType,
    *,
    keys: list[Any],
    field: str,
    warnings: list[str],
) -> pa.Array:
    """Return ``values`` as an Arrow array of ``target``, nulling values that cannot be cast."""
    try:
        raw = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        raw = pa.array([None if value is None else str(value) for value in values], type=pa.string())
    if raw.type == target:
        return raw
    try:
        return raw.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        return _cast_value_by_value(values, target, keys, field, warnings)


def records_to_table(
    columns: dict[str, list[Any]],
    fields: Sequence[FieldSpec],
    *,
    key_field: str,
    warnings: list[str],
) -> pa.Table:
    """Build a table from column lists, typed by ``fields``; missing columns are all null."""
    keys = columns[key_field]
    row_count = len(keys)
    arrays = []
    for item in fields:
        target = arrow_type(item.type)
        values = columns.get(item.name)
        if values is None:
            arrays.append(pa.nulls(row_count, type=target))
            continue
        arrays.append(build_column(values, target, keys=keys, field=item.name, warnings=warnings))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(fields))
