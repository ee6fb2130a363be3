"""Handlers of the emulated CRM v3 endpoints.

Each handler returns the JSON payload of a successful response or raises ApiError.
Authentication, rate limiting and fault injection happen before these run, in
``service.py``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlencode

from .dataset import HubSpotDataset
from .errors import ApiError, method_not_allowed, object_type_not_found, route_not_found, validation_error
from .record import PropertyKeys, Record, json_property_keys
from .schema import ObjectSchema, resolve_object_type
from .search import SearchEngine, parse_search_request

DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100

Query = dict[str, list[str]]


@functools.lru_cache(maxsize=1024)
def select_property_names(schema: ObjectSchema, requested: tuple[str, ...] | None) -> tuple[str, ...]:
    """Return the property names a response includes, sorted by name.

    Without a request, the object type's default properties. With one, the
    requested names that exist plus the id, create date and last-modified date,
    which HubSpot always returns. Unknown names are ignored, as HubSpot does.
    """
    if requested is None:
        return tuple(sorted(schema.default_properties))
    names = {name for name in requested if name in schema.by_name}
    names.update(schema.always_returned)
    return tuple(sorted(names))


@functools.lru_cache(maxsize=1024)
def _property_keys(names: tuple[str, ...]) -> PropertyKeys:
    return json_property_keys(names)


@dataclass
class RecordsPayload:
    """A page of records: ``{"total"?, "results", "paging"?}``, encoded without building per-record dicts."""

    records: Sequence[Record]
    property_names: tuple[str, ...]
    paging: dict[str, Any] | None = None
    total: int | None = None

    def encode(self) -> bytes:
        keys = _property_keys(self.property_names)
        parts = ["{"]
        if self.total is not None:
            parts.append(f'"total":{self.total},')
        parts.append('"results":[')
        parts.append(",".join([_encoded_record(record, keys) for record in self.records]))
        parts.append("]")
        if self.paging is not None:
            parts.append(',"paging":')
            parts.append(json.dumps(self.paging, separators=(",", ":")))
        parts.append("}")
        return "".join(parts).encode("ascii")


# Encoded records by (record object, property keys). Records are immutable and each entry keeps its
# record alive, so an object id is never reused while its entry exists.
_ENCODED: dict[tuple[int, PropertyKeys], tuple[Record, str]] = {}
MAX_ENCODED_RECORDS = 1_000_000


def _encoded_record(record: Record, keys: PropertyKeys) -> str:
    entry = _ENCODED.get((id(record), keys))
    if entry is not None and entry[0] is record:
        return entry[1]
    if len(_ENCODED) >= MAX_ENCODED_RECORDS:
        _ENCODED.clear()
    text = record.to_json(keys)
    _ENCODED[(id(record), keys)] = (record, text)
    return text


@functools.lru_cache(maxsize=64)
def _property_definitions(schema: ObjectSchema) -> tuple[dict[str, Any], ...]:
    return tuple(spec.to_wire() for spec in schema.properties)


def _requested_properties(query: Query) -> tuple[str, ...] | None:
    """Read ``properties``, given either comma-separated or as repeated parameters."""
    values = query.get("properties")
    if values is None:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    return tuple(name for name in names if name)


def _single(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _parse_bool(query: Query, name: str) -> bool:
    value = _single(query, name)
    if value is None or value == "":
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise validation_error(f"Invalid {name} {value!r}: expected true or false.")


def _parse_list_limit(query: Query) -> int:
    value = _single(query, "limit")
    if value is None or value == "":
        return DEFAULT_LIST_LIMIT
    try:
        limit = int(value)
    except ValueError:
        message = f"Invalid limit {value!r}: expected an integer between 1 and {MAX_LIST_LIMIT}."
        raise validation_error(message) from None
    if limit < 1 or limit > MAX_LIST_LIMIT:
        raise validation_error(
            f"Invalid limit {limit}: the maximum number of records per page is {MAX_LIST_LIMIT}, and at least 1."
        )
    return limit


def _parse_cursor(value: str | None) -> int | None:
    """Return the record id that a list cursor points at. The emulator's cursors are the next page's first id."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise validation_error(f"Invalid after cursor {value!r}: pass the paging.next.after value unchanged.") from None


def _resolve(name: str) -> str:
    object_type = resolve_object_type(name)
    if object_type is None:
        raise object_type_not_found(name)
    return object_type


class CrmApi:
    """Routes CRM v3 requests to the dataset and the search engine."""

    def __init__(self, dataset: HubSpotDataset, base_url: str) -> None:
        self.dataset = dataset
        self.base_url = base_url
        self.search_engine = SearchEngine(dataset)

    def handle(self, method: str, path: str, query: Query, body: Any) -> dict[str, Any] | RecordsPayload:
        """Route one request to its handler and return the payload.

        ``body`` is the parsed JSON body, or None when the request has none.
        """
        parts = [part for part in path.split("/") if part]
        if len(parts) < 4 or parts[0] != "crm" or parts[1] != "v3":
            raise route_not_found(method, path)
        family, object_name, rest = parts[2], parts[3], parts[4:]
        if family == "objects":
            return self._objects(method, path, _resolve(object_name), rest, query, body)
        if family == "properties":
            return self._properties(method, path, _resolve(object_name), rest)
        raise route_not_found(method, path)

    def _objects(
        self, method: str, path: str, object_type: str, rest: list[str], query: Query, body: Any
    ) -> dict[str, Any] | RecordsPayload:
        if not rest:
            if method != "GET":
                raise method_not_allowed(method, path)
            return self.list_page(object_type, path, query)
        if rest == ["search"]:
            if method != "POST":
                raise method_not_allowed(method, path)
            return self.search(object_type, body)
        if len(rest) == 1:
            if method != "GET":
                raise method_not_allowed(method, path)
            return self.read_one(object_type, rest[0], query)
        raise route_not_found(method, path)

    def list_page(self, object_type: str, path: str, query: Query) -> RecordsPayload:
        limit = _parse_list_limit(query)
        after_id = _parse_cursor(_single(query, "after"))
        archived = _parse_bool(query, "archived")
        names = select_property_names(self.dataset.schema(object_type), _requested_properties(query))

        records, next_id = self.dataset.page(object_type, after_id=after_id, limit=limit, archived=archived)
        payload = RecordsPayload(records, names)
        if next_id is not None:
            payload.paging = {"next": {"after": str(next_id), "link": self.page_link(path, query, str(next_id))}}
        return payload

    def page_link(self, path: str, query: Query, after: str) -> str:
        """Return the URL of the page that starts at ``after``, keeping the other query parameters."""
        params = [(name, value) for name, values in query.items() if name != "after" for value in values]
        params.append(("after", after))
        return f"{self.base_url}{path}?{urlencode(params)}"

    def read_one(self, object_type: str, raw_id: str, query: Query) -> dict[str, Any]:
        archived = _parse_bool(query, "archived")
        record = self.dataset.get(object_type, int(raw_id)) if raw_id.isdigit() else None
        if record is None or (record.archived_at is not None) != archived:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Object not found: no {object_type} record with id {raw_id}.")
        return record.to_wire(select_property_names(self.dataset.schema(object_type), _requested_properties(query)))

    def search(self, object_type: str, body: Any) -> RecordsPayload:
        request = parse_search_request(self.dataset.schema(object_type), body)
        total, records, next_offset = self.search_engine.run(request)
        payload = RecordsPayload(records, select_property_names(request.schema, request.properties), total=total)
        if next_offset is not None:
            payload.paging = {"next": {"after": str(next_offset)}}
        return payload

    def _properties(self, method: str, path: str, object_type: str, rest: list[str]) -> dict[str, Any]:
        if method != "GET":
            raise method_not_allowed(method, path)
        definitions = _property_definitions(self.dataset.schema(object_type))
        if not rest:
            return {"results": [dict(definition) for definition in definitions]}
        if len(rest) == 1:
            for definition in definitions:
                if definition["name"] == rest[0]:
                    return dict(definition)
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Property {rest[0]} does not exist on {object_type}.")
        raise route_not_found(method, path)


def encode_json(payload: Any) -> bytes:
    """Encode a payload compactly as UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
