"""The emulator's in-memory record store: seeded records plus the changes tests make."""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Sequence

from .generator import RecordGenerator
from .record import Record
from .schema import OBJECT_TYPES, SCHEMAS, ObjectSchema, PropertySpec, with_property, with_property_type
from .timeutil import canonical_date, canonical_datetime, datetime_to_ms, format_ms, now_ms

# Text of a finite decimal number, such as "5", "-0.5", "19.99", "1e3", ".5" or "5.". A float()
# check alone would also accept "nan", "inf", "1_000" and surrounding spaces.
_DECIMAL_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class RecordNotFoundError(LookupError):
    """Raised when a record id is not among the active records of an object type."""


@dataclass
class _Table:
    """Records of one object type. Ids not in ``stored`` are seeded and generated on demand."""

    seeded: int
    active_ids: list[int] = field(default_factory=list)
    archived_ids: list[int] = field(default_factory=list)
    stored: dict[int, Record] = field(default_factory=dict)
    next_id: int = 1
    version: int = 0


class HubSpotDataset:
    """Seeded, mutable and thread-safe store of contacts, companies and deals.

    The same arguments give identical records. Ids start at 1 for each object type
    and records are kept in ascending id order. Seeded records are generated when
    read and are not kept in memory, so a large dataset is cheap to create.

    ``extra_properties`` adds custom properties to the schema of each object type
    it names, for example ``{"deals": [PropertySpec("score", "Score", "number")]}``.
    Seeded records have them unset. Each dataset keeps its own schemas, so adding
    or redefining a property never affects another dataset.
    """

    def __init__(
        self,
        contacts: int = 500,
        companies: int = 100,
        deals: int = 200,
        seed: int = 1,
        extra_properties: Mapping[str, Sequence[PropertySpec]] | None = None,
    ) -> None:
        counts = {"contacts": contacts, "companies": companies, "deals": deals}
        for object_type, count in counts.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{object_type} must be a non-negative integer, got {count!r}")
        self.seed = seed
        self.seeded_counts = dict(counts)
        self._generator = RecordGenerator(seed, counts)
        # Readers take a schema without the lock. Writers replace a whole schema while holding it.
        self._schemas = _build_schemas(extra_properties or {})
        self._lock = threading.Lock()
        self._generated: dict[str, dict[int, Record]] = {}
        self._tables = {
            object_type: _Table(seeded=count, active_ids=list(range(1, count + 1)), next_id=count + 1)
            for object_type, count in counts.items()
        }

    def _table(self, object_type: str) -> _Table:
        table = self._tables.get(object_type)
        if table is None:
            raise ValueError(f"unknown object type {object_type!r}, expected one of {', '.join(OBJECT_TYPES)}")
        return table

    def _materialise(self, object_type: str, ids: list[int], stored: list[Record | None]) -> list[Record]:
        # Generated records are deterministic, so each is generated once and then kept, as a real
        # service keeps its stored records; that keeps repeated paging cheap.
        cache = self._generated.setdefault(object_type, {})
        records = []
        for record_id, record in zip(ids, stored):
            if record is None:
                record = cache.get(record_id)
                if record is None:
                    record = cache[record_id] = self._generator.generate(object_type, record_id)
            records.append(record)
        return records

    def schema(self, object_type: str) -> ObjectSchema:
        """Return the current property definitions of ``object_type``."""
        self._table(object_type)
        return self._schemas[object_type]

    def add_property(self, object_type: str, spec: PropertySpec) -> PropertySpec:
        """Add a property to ``object_type`` and return its definition with defaults filled in.

        Existing records have the property unset. An empty field type or group name
        becomes the default of the type and of the object type. Raises
        PropertyExistsError when the name is taken, and ValueError for an invalid definition.
        """
        table = self._table(object_type)
        with self._lock:
            schema = with_property(self._schemas[object_type], spec)
            self._schemas[object_type] = schema
            table.version += 1
        return schema.by_name[spec.name]

    def redefine_property(
        self, object_type: str, name: str, new_type: str, *, options: Sequence[str] | None = None
    ) -> PropertySpec:
        """Change the type of a property, as a HubSpot admin can, and return the new definition.

        Stored values stay as they are, even those the new type would reject.
        Later upserts are validated against the new type, and search filters and
        sorts compare values as the new type. ``options`` sets the values of an
        enumeration. Raises PropertyNotFoundError for an unknown property, and
        ValueError for an invalid type or for the id, create date and last-modified date.
        """
        table = self._table(object_type)
        with self._lock:
            schema = with_property_type(self._schemas[object_type], name, new_type, options)
            self._schemas[object_type] = schema
            table.version += 1
        return schema.by_name[name]

    def count(self, object_type: str, *, archived: bool = False) -> int:
        """Return the number of active records, or of archived ones when ``archived`` is true."""
        table = self._table(object_type)
        with self._lock:
            return len(table.archived_ids if archived else table.active_ids)

    def version(self, object_type: str) -> int:
        """Return a counter that changes whenever a record or a property definition of ``object_type`` changes."""
        table = self._table(object_type)
        with self._lock:
            return table.version

    def get(self, object_type: str, record_id: int) -> Record | None:
        """Return the record, active or archived, or None when the id does not exist."""
        table = self._table(object_type)
        with self._lock:
            record = table.stored.get(record_id)
            exists = record is not None or (1 <= record_id <= table.seeded)
        if not exists:
            return None
        return record if record is not None else self._generator.generate(object_type, record_id)

    def page(
        self, object_type: str, *, after_id: int | None, limit: int, archived: bool = False
    ) -> tuple[list[Record], int | None]:
        """Return up to ``limit`` records with id >= ``after_id``, and the id that starts the next page.

        The next id is None on the last page.
        """
        table = self._table(object_type)
        with self._lock:
            ids = table.archived_ids if archived else table.active_ids
            start = 0 if after_id is None else bisect.bisect_left(ids, after_id)
            chunk = ids[start : start + limit]
            next_id = ids[start + limit] if start + limit < len(ids) else None
            stored = [table.stored.get(record_id) for record_id in chunk]
        return self._materialise(object_type, chunk, stored), next_id

    def snapshot(self, object_type: str) -> tuple[int, list[Record]]:
        """Return the version and every active record of ``object_type``, in id order."""
        table = self._table(object_type)
        with self._lock:
            version = table.version
            ids = list(table.active_ids)
            stored = [table.stored.get(record_id) for record_id in ids] if table.stored else [None] * len(ids)
        return version, self._materialise(object_type, ids, stored)

    def records(self, object_type: str, *, archived: bool = False) -> list[Record]:
        """Return every active record, or every archived one, in id order."""
        if not archived:
            return self.snapshot(object_type)[1]
        table = self._table(object_type)
        with self._lock:
            return [table.stored[record_id] for record_id in table.archived_ids]

    def upsert(
        self,
        object_type: str,
        record_id: int | str | None,
        properties: Mapping[str, object],
        modified_at: datetime | None = None,
    ) -> int:
        """Create or update a record and return its id.

        With ``record_id`` None the record gets the next id of the sequence. An id
        that does not exist yet creates a record with that id. An update merges
        ``properties`` into the record. The last-modified property and ``updatedAt``
        become ``modified_at`` (a naive datetime is taken as UTC), or the value of the
        last-modified property in ``properties``, or the current time. Any instant
        from year 1 to 9999 is accepted, even one before the record's create date.
        A number property stores the text of a ``str`` or ``Decimal`` value unchanged,
        and ``str()`` of an int or float. Raises ValueError for an unknown property,
        an invalid value or an archived id.
        """
        table = self._table(object_type)
        requested_id = None if record_id is None else _parse_record_id(record_id)
        given_modified = None if modified_at is None else format_ms(datetime_to_ms(modified_at))

        with self._lock:
            # Validated while holding the lock, so that redefine_property cannot change a type between
            # validation and storage.
            schema = self._schemas[object_type]
            values = _normalise_properties(schema, properties)
            last_modified = schema.last_modified_property
            modified = given_modified or values.get(last_modified) or format_ms(now_ms())
            values[last_modified] = modified
            new_id = table.next_id if requested_id is None else requested_id
            if new_id in table.stored and table.stored[new_id].archived_at is not None:
                raise ValueError(f"{object_type} record {new_id} is archived and cannot be updated")
            self._store_locked(table, schema, new_id, values, modified)
            table.version += 1
        return new_id

    def _store_locked(
        self, table: _Table, schema: ObjectSchema, record_id: int, values: dict[str, str | None], modified: str
    ) -> None:
        """Merge ``values`` into an active record, or insert a new one. The caller holds the lock."""
        position = bisect.bisect_left(table.active_ids, record_id)
        exists = position < len(table.active_ids) and table.active_ids[position] == record_id
        if exists:
            current = table.stored.get(record_id) or self._generator.generate(schema.object_type, record_id)
            merged = {**current.properties, **values}
            created = merged["createdate"] or current.created_at
            table.stored[record_id] = current._replace(properties=merged, created_at=created, updated_at=modified)
            return
        created = values.get("createdate") or modified
        fresh: dict[str, str | None] = {spec.name: None for spec in schema.properties}
        fresh.update(values)
        fresh["hs_object_id"] = str(record_id)
        fresh["createdate"] = created
        table.stored[record_id] = Record(record_id, fresh, created, modified)
        table.active_ids.insert(position, record_id)
        table.next_id = max(table.next_id, record_id + 1)

    def archive(self, object_type: str, record_id: int | str, at: datetime | None = None) -> None:
        """Archive an active record at ``at``, which defaults to now. A naive datetime is taken as UTC.

        Raises RecordNotFoundError when the id is not an active record.
        """
        table = self._table(object_type)
        target = _parse_record_id(record_id)
        archived_at = format_ms(now_ms() if at is None else datetime_to_ms(at))
        with self._lock:
            position = bisect.bisect_left(table.active_ids, target)
            if position >= len(table.active_ids) or table.active_ids[position] != target:
                raise RecordNotFoundError(f"{object_type} record {target} not found among active records")
            current = table.stored.get(target) or self._generator.generate(object_type, target)
            table.stored[target] = current._replace(archived_at=archived_at)
            del table.active_ids[position]
            bisect.insort(table.archived_ids, target)
            table.version += 1


def _parse_record_id(record_id: int | str) -> int:
    try:
        parsed = int(record_id)
    except (TypeError, ValueError):
        raise ValueError(f"invalid record id {record_id!r}, expected a positive integer") from None
    if parsed < 1 or isinstance(record_id, bool):
        raise ValueError(f"invalid record id {record_id!r}, expected a positive integer")
    return parsed


def _build_schemas(extra_properties: Mapping[str, Sequence[PropertySpec]]) -> dict[str, ObjectSchema]:
    """Return the built-in schemas with ``extra_properties`` added, leaving ``SCHEMAS`` unchanged."""
    schemas = dict(SCHEMAS)
    for object_type, specs in extra_properties.items():
        if object_type not in schemas:
            raise ValueError(
                f"extra_properties names unknown object type {object_type!r}, expected one of {', '.join(OBJECT_TYPES)}"
            )
        if isinstance(specs, PropertySpec):
            raise ValueError(f"extra_properties[{object_type!r}] must be a list of PropertySpec, not a single one")
        for spec in specs:
            schemas[object_type] = with_property(schemas[object_type], spec)
    return schemas


def _normalise_properties(schema: ObjectSchema, properties: Mapping[str, object]) -> dict[str, str | None]:
    """Validate property values and convert them to the stored string forms."""
    normalised: dict[str, str | None] = {}
    for name, value in properties.items():
        spec = schema.by_name.get(name)
        if spec is None:
            raise ValueError(f"property {name!r} does not exist on {schema.object_type}")
        if name == "hs_object_id":
            continue
        normalised[name] = None if value is None else _normalise_value(spec, value)
    return normalised


def _normalise_value(spec: PropertySpec, value: object) -> str:
    name = spec.name
    if isinstance(value, bool):
        value = "true" if value else "false"
    if spec.type == "datetime":
        return canonical_datetime(value)
    if spec.type == "date":
        return canonical_date(value)
    if spec.type == "number":
        text = str(value)
        if not _DECIMAL_NUMBER.match(text):
            raise ValueError(f"property {name!r} expects a number, got {value!r}")
        return text
    if spec.type == "bool":
        text = str(value).lower()
        if text not in ("true", "false"):
            raise ValueError(f"property {name!r} expects 'true' or 'false', got {value!r}")
        return text
    if spec.type == "enumeration":
        text = str(value)
        if text not in spec.options:
            raise ValueError(f"property {name!r} expects one of {', '.join(spec.options)}, got {value!r}")
        return text
    return str(value)
