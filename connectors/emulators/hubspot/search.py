"""Parsing and evaluation of CRM search requests (``POST /crm/v3/objects/{type}/search``)."""

from __future__ import annotations

import json
import operator
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from .dataset import HubSpotDataset
from .errors import validation_error
from .record import Record
from .schema import ObjectSchema, PropertySpec
from .timeutil import canonical_date, canonical_datetime

DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 200
# HubSpot documents a cap of 10,000 results per search query and a 400 error for
# paging past it. The emulator rejects any request whose window (after + limit)
# reaches past the cap.
# NOTE: whether HubSpot also rejects a window that only partly passes the cap is not verified.
MAX_SEARCH_RESULTS = 10_000
# Filter limits announced in HubSpot's developer changelog entry "Expanded
# Filtering Capabilities and Error Messaging in HubSpot's Search API" (August 2024).
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS_TOTAL = 25

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "EQ": operator.eq,
    "NEQ": operator.ne,
    "LT": operator.lt,
    "LTE": operator.le,
    "GT": operator.gt,
    "GTE": operator.ge,
}
_OPERATORS = (*_COMPARISONS, "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")

Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class Condition:
    """One filter: the property it reads and a test of the stored value."""

    property_name: str
    test: Predicate


@dataclass(frozen=True)
class SearchRequest:
    """A validated search body, with the schema it was validated against."""

    object_type: str
    schema: ObjectSchema
    filter_groups: tuple[tuple[Condition, ...], ...]
    sorts: tuple[tuple[str, bool], ...]
    text_query: str | None
    properties: tuple[str, ...] | None
    limit: int
    offset: int
    cache_key: str


def _typed(spec: PropertySpec, value: object) -> Any:
    """Convert a filter value to the form the stored values of ``spec`` are compared in."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    if spec.type == "number":
        return float(value)  # type: ignore[arg-type]
    if spec.type == "datetime":
        return canonical_datetime(value)
    if spec.type == "date":
        return canonical_date(value)
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"invalid value {value!r}")
    return str(value)


def _number_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _stored_key(spec: PropertySpec) -> Callable[[str], Any]:
    """Return the conversion applied to stored values before comparing them.

    It returns None for a value that cannot be read as the property's type, which
    happens to values stored before ``redefine_property`` changed the type to number.
    """
    if spec.type == "number":
        return _number_or_none
    return str


def _on_readable(test: Callable[[Any], bool], convert: Callable[[str], Any]) -> Predicate:
    """Return a predicate that applies ``test`` to the converted value. Unset and unreadable values never match."""
    # NOTE: HubSpot's handling of values stored before a type change is not reproduced.

    def predicate(value: str | None) -> bool:
        if value is None:
            return False
        converted = convert(value)
        return converted is not None and bool(test(converted))

    return predicate


def _comparison(operator_name: str, target: Any, convert: Callable[[str], Any]) -> Predicate:
    compare = _COMPARISONS[operator_name]
    return _on_readable(lambda converted: compare(converted, target), convert)


def _parse_condition(schema: ObjectSchema, raw: Any) -> Condition:
    if not isinstance(raw, dict):
        raise validation_error(f"Invalid filter {raw!r}: expected an object with propertyName and operator.")
    name = raw.get("propertyName")
    operator_name = raw.get("operator")
    spec = schema.by_name.get(name) if isinstance(name, str) else None
    if spec is None:
        # NOTE: the emulator rejects unknown filter properties. HubSpot's exact response for them is not reproduced.
        raise validation_error(f"Invalid filter: property {name!r} does not exist on {schema.object_type}.")
    if operator_name not in _OPERATORS:
        raise validation_error(
            f"Invalid filter on {name}: operator {operator_name!r} is not supported."
            f" Use one of {', '.join(_OPERATORS)}."
        )
    convert = _stored_key(spec)
    try:
        if operator_name == "HAS_PROPERTY":
            return Condition(name, lambda value: value is not None)
        if operator_name == "NOT_HAS_PROPERTY":
            return Condition(name, lambda value: value is None)
        if operator_name in ("IN", "NOT_IN"):
            values = raw.get("values")
            if not isinstance(values, list):
                raise validation_error(f"Invalid filter on {name}: operator {operator_name} needs a values list.")
            members = {_typed(spec, item) for item in values}
            wanted = operator_name == "IN"
            return Condition(name, _on_readable(lambda converted: (converted in members) == wanted, convert))
        if operator_name == "BETWEEN":
            low = _typed(spec, raw.get("value"))
            high = _typed(spec, raw.get("highValue"))
            return Condition(name, _on_readable(lambda converted: low <= converted <= high, convert))
        return Condition(name, _comparison(operator_name, _typed(spec, raw.get("value")), convert))
    except (TypeError, ValueError) as error:
        raise validation_error(f"Invalid filter value for {name} ({spec.type}): {error}") from None


def _parse_filter_groups(schema: ObjectSchema, raw: Any) -> tuple[tuple[Condition, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise validation_error("filterGroups must be a list of objects with a filters list.")
    if len(raw) > MAX_FILTER_GROUPS:
        raise validation_error(f"Too many filter groups: {len(raw)}. The maximum is {MAX_FILTER_GROUPS}.")
    groups: list[tuple[Condition, ...]] = []
    total = 0
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error("Each filter group must be an object with a filters list.")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Too many filters in one group: {len(filters)}. The maximum is {MAX_FILTERS_PER_GROUP}."
            )
        total += len(filters)
        groups.append(tuple(_parse_condition(schema, item) for item in filters))
    if total > MAX_FILTERS_TOTAL:
        raise validation_error(f"Too many filters: {total}. The maximum is {MAX_FILTERS_TOTAL}.")
    return tuple(groups)


def _parse_sorts(schema: ObjectSchema, raw: Any) -> tuple[tuple[str, bool], ...]:
    """Return (property, descending) pairs. A string item sorts ascending, or descending with a leading '-'."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise validation_error("sorts must be a list.")
    sorts: list[tuple[str, bool]] = []
    for item in raw:
        if isinstance(item, str):
            name, descending = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, dict):
            name = item.get("propertyName")
            direction = item.get("direction", "ASCENDING")
            if direction not in ("ASCENDING", "DESCENDING"):
                raise validation_error(f"Invalid sort direction {direction!r}. Use ASCENDING or DESCENDING.")
            descending = direction == "DESCENDING"
        else:
            raise validation_error(f"Invalid sort {item!r}: expected a property name or an object.")
        if not isinstance(name, str) or name not in schema.by_name:
            raise validation_error(f"Invalid sort: property {name!r} does not exist on {schema.object_type}.")
        sorts.append((name, descending))
    return tuple(sorts)


def _parse_int(raw: Any, field_name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise validation_error(f"Invalid {field_name} {raw!r}: expected a non-negative integer.")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise validation_error(f"Invalid {field_name} {raw!r}: expected a non-negative integer.") from None
    if value < 0:
        raise validation_error(f"Invalid {field_name} {raw!r}: expected a non-negative integer.")
    return value


def parse_search_request(schema: ObjectSchema, body: Any) -> SearchRequest:
    """Validate a search body against ``schema``. Raises ApiError (400) describing the first problem found."""
    if not isinstance(body, dict):
        raise validation_error("The search body must be a JSON object.")
    limit = _parse_int(body.get("limit"), "limit", DEFAULT_SEARCH_LIMIT)
    if limit < 1 or limit > MAX_SEARCH_LIMIT:
        raise validation_error(f"Invalid limit {limit}: the search limit must be between 1 and {MAX_SEARCH_LIMIT}.")
    offset = _parse_int(body.get("after"), "after", 0)
    if offset + limit > MAX_SEARCH_RESULTS:
        raise validation_error(
            f"Search results are limited to {MAX_SEARCH_RESULTS} per query, and after ({offset}) plus limit ({limit})"
            f" is more than {MAX_SEARCH_RESULTS}. Narrow the query, for example with a filter on"
            f" {schema.last_modified_property}."
        )

    properties = body.get("properties")
    if properties is not None and (
        not isinstance(properties, list) or not all(isinstance(name, str) for name in properties)
    ):
        raise validation_error("properties must be a list of property names.")
    text_query = body.get("query")
    if text_query is not None and not isinstance(text_query, str):
        raise validation_error("query must be a string.")

    filter_groups_raw = body.get("filterGroups")
    sorts_raw = body.get("sorts")
    cache_key = json.dumps([filter_groups_raw, sorts_raw, text_query], sort_keys=True, default=str)
    return SearchRequest(
        object_type=schema.object_type,
        schema=schema,
        filter_groups=_parse_filter_groups(schema, filter_groups_raw),
        sorts=_parse_sorts(schema, sorts_raw),
        text_query=text_query or None,
        properties=tuple(properties) if properties is not None else None,
        limit=limit,
        offset=offset,
        cache_key=cache_key,
    )


def _matches(record: Record, groups: tuple[tuple[Condition, ...], ...]) -> bool:
    values = record.properties
    for group in groups:
        if all(condition.test(values.get(condition.property_name)) for condition in group):
            return True
    return False


def _text_matches(record: Record, schema: ObjectSchema, needle: str) -> bool:
    # NOTE: approximates HubSpot's free-text search as a case-insensitive substring
    # match over string properties. HubSpot's tokenisation is not reproduced.
    values = record.properties
    for spec in schema.properties:
        if spec.type == "string":
            value = values.get(spec.name)
            if value is not None and needle in value.lower():
                return True
    return False


def _sort_records(records: list[Record], schema: ObjectSchema, sorts: tuple[tuple[str, bool], ...]) -> None:
    """Sort in place. Records arrive in id order and the sorts are stable, so ties stay in ascending id order.

    Unset values sort before set ones in ascending order and after them in descending order.
    Values that cannot be read as the property's type sort as unset.
    """
    for name, descending in reversed(sorts):
        convert = _stored_key(schema.by_name[name])

        def key(record: Record, name: str = name, convert: Callable[[str], Any] = convert) -> tuple[int, Any]:
            value = record.properties.get(name)
            converted = None if value is None else convert(value)
            return (0, 0) if converted is None else (1, converted)

        records.sort(key=key, reverse=descending)


class SearchEngine:
    """Runs search requests, caching the sorted matches per query and dataset version."""

    def __init__(self, dataset: HubSpotDataset, cache_size: int = 16) -> None:
        self._dataset = dataset
        self._cache: OrderedDict[tuple[str, int, str], list[int]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _matching_ids(self, request: SearchRequest) -> list[int]:
        object_type = request.object_type
        key = (object_type, self._dataset.version(object_type), request.cache_key)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached

        version, records = self._dataset.snapshot(object_type)
        schema = request.schema
        if request.filter_groups:
            records = [record for record in records if _matches(record, request.filter_groups)]
        if request.text_query:
            needle = request.text_query.lower()
            records = [record for record in records if _text_matches(record, schema, needle)]
        _sort_records(records, schema, request.sorts)
        ids = [record.id for record in records]
        if self._dataset.schema(object_type) is not schema:
            # The property definitions changed after the request was parsed, so the version may be newer than them.
            return ids

        with self._lock:
            self._cache[(object_type, version, request.cache_key)] = ids
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ids

    def run(self, request: SearchRequest) -> tuple[int, list[Record], int | None]:
        """Return the total number of matches, the requested page and the offset of the next page.

        The next offset is None on the last page and never reaches ``MAX_SEARCH_RESULTS``.
        """
        ids = self._matching_ids(request)
        page_ids = ids[request.offset : request.offset + request.limit]
        records = [
            record
            for record in (self._dataset.get(request.object_type, record_id) for record_id in page_ids)
            if record is not None and record.archived_at is None
        ]
        next_offset = request.offset + len(page_ids)
        if next_offset >= len(ids) or next_offset >= MAX_SEARCH_RESULTS:
            return len(ids), records, None
        return len(ids), records, next_offset

