"""How a stream's columns are named and how they evolve against the table already loaded.

Rules, applied to every connector:
- Column names are the provider's field names in dlt's snake_case. When two fields normalise to
  the same name, the later one gets ``_2`` (then ``_3``), so neither overwrites the other.
- A field whose type no longer matches the existing column (for example a number field that the
  provider turned into text) is written to a variant column ``<name>__v_<type>`` instead. The old
  column keeps its values, so both are readable and nothing is cast lossily.
- Fields new to the table become new columns (dlt adds them).
"""

from __future__ import annotations

from dataclasses import replace

from dlt.common.normalizers.naming.snake_case import NamingConvention

from connectors.arrow_records import variant_name
from connectors.base import FieldSpec, FieldType, StreamSpec

_NAMING = NamingConvention()

def family_of(sql_type: str) -> FieldType | None:
    """Map a DuckDB or PostgreSQL column type to a field type; None when it has no equivalent."""
    text = sql_type.lower()
    if text.startswith(("decimal", "numeric")):
        return "decimal"
    if text in {"bigint", "integer", "smallint", "hugeint", "int8", "int4"}:
        return "integer"
    if text.startswith(("varchar", "character varying", "text")):
        return "string"
    if text == "boolean":
        return "boolean"
    if text.startswith("timestamp"):
        return "datetime"
    if text == "date":
        return "date"
    if text.startswith("json"):
        return "json"
    return None


def normalise_names(stream: StreamSpec) -> StreamSpec:
    """Return the stream with snake_case column names that are unique within the table."""
    used: set[str] = set()
    renamed: dict[str, str] = {}
    fields = []
    for item in stream.fields:
        base = _NAMING.normalize_identifier(item.name)
        name, counter = base, 2
        while name in used:
            name, counter = f"{base}_{counter}", counter + 1
        used.add(name)
        renamed.setdefault(item.name, name)
        fields.append(replace(item, name=name, source=item.source_name))
    return replace(
        stream,
        fields=tuple(fields),
        primary_key=tuple(renamed.get(key, key) for key in stream.primary_key),
        cursor_field=renamed.get(stream.cursor_field, stream.cursor_field) if stream.cursor_field else None,
    )


def reconcile_with_table(stream: StreamSpec, existing_columns: list[tuple[str, str]]) -> StreamSpec:
    """Route fields whose type changed to variant columns; keys and the cursor never move."""
    existing = {name: family_of(sql_type) for name, sql_type in existing_columns}
    protected = {*stream.primary_key, stream.cursor_field}
    fields: list[FieldSpec] = []
    for item in stream.fields:
        current = existing.get(item.name)
        if item.name in protected or current is None or current == item.type:
            fields.append(item)
        else:
            fields.append(replace(item, name=variant_name(item.name, item.type)))
    return replace(stream, fields=tuple(fields))
