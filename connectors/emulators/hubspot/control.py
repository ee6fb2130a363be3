"""The ``/_emulator/`` control API: faults, the request log, record changes and property definitions.

It needs no token and serves only clients on the loopback interface.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .dataset import RecordNotFoundError
from .schema import ObjectSchema, PropertyExistsError, PropertyNotFoundError, PropertySpec, resolve_object_type
from .service import HubSpotService, Response, json_response
from .timeutil import parse_instant_ms

logger = logging.getLogger(__name__)


class _JsonNumberText(str):
    """Source text of a JSON number with a fraction or an exponent, such as ``19.99`` or ``1e3``.

    Record bodies are parsed with it so that a number property stores the digits as
    sent, where ``float`` would turn ``34.70`` into ``34.7`` and ``1e3`` into ``1000.0``.
    """


def _error(status: int, message: str) -> Response:
    return json_response(status, {"status": "error", "message": message})


def _parse_json_object(raw: bytes, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_float=parse_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"invalid JSON in the request body: {error}") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _as_float(value: Any) -> Any:
    """Convert a JSON number that was kept as text to a float, and return any other value unchanged."""
    return float(value) if isinstance(value, _JsonNumberText) else value


def _instant(value: Any, field_name: str) -> datetime | None:
    value = _as_float(value)
    if value is None:
        return None
    try:
        epoch_ms = parse_instant_ms(value)
    except ValueError as error:
        raise ValueError(f"invalid {field_name}: {error}") from None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=epoch_ms)


def handle_control(service: HubSpotService, method: str, path: str, raw_body: bytes) -> Response:
    """Route one control request and return its response."""
    parts = [part for part in path.split("/") if part][1:]
    parse_float = _JsonNumberText if parts[:1] == ["records"] else float
    try:
        body = _parse_json_object(raw_body, parse_float) if method in ("POST", "PATCH") else {}
        return _route(service, method, parts, body, path)
    except ValueError as error:
        return _error(400, str(error))


def _route(service: HubSpotService, method: str, parts: list[str], body: dict[str, Any], path: str) -> Response:
    if parts == ["health"] and method == "GET":
        return json_response(200, {"status": "ok"})
    if parts == ["faults"]:
        if method == "POST":
            return json_response(201, service.faults.add(body).to_json())
        if method == "GET":
            return json_response(200, {"faults": service.faults.describe()})
        if method == "DELETE":
            service.faults.clear()
            return json_response(200, {"cleared": True})
    if parts == ["requests"]:
        if method == "GET":
            return json_response(200, {"requests": service.request_log.entries()})
        if method == "DELETE":
            service.request_log.clear()
            return json_response(200, {"cleared": True})
    if len(parts) >= 2 and parts[0] in ("records", "properties"):
        object_type = resolve_object_type(parts[1])
        if object_type is None:
            return _error(404, f"unknown object type {parts[1]!r}. Use contacts, companies or deals")
        response = _route_object_type(service, method, parts, object_type, body)
        if response is not None:
            return response
    return _error(404, f"no control endpoint matches {method} {path}")


def _route_object_type(
    service: HubSpotService, method: str, parts: list[str], object_type: str, body: dict[str, Any]
) -> Response | None:
    """Route the record and property endpoints of one object type. Returns None when none matches."""
    if parts[0] == "records" and method == "POST":
        if len(parts) == 2:
            return _upsert(service, object_type, body)
        if len(parts) == 4 and parts[3] == "archive":
            return _archive(service, object_type, parts[2], body)
    if parts[0] == "properties":
        if len(parts) == 2 and method == "POST":
            return _add_property(service, object_type, body)
        if len(parts) == 3 and method == "PATCH":
            return _redefine_property(service, object_type, parts[2], body)
    return None


def _upsert(service: HubSpotService, object_type: str, body: dict[str, Any]) -> Response:
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        raise ValueError("properties must be an object mapping property names to values")
    schema = service.dataset.schema(object_type)
    values = {name: _property_value(schema, name, value) for name, value in properties.items()}
    modified_at = _instant(body.get("modifiedAt"), "modifiedAt")
    record_id = service.dataset.upsert(object_type, _as_float(body.get("id")), values, modified_at)
    return json_response(200, {"id": str(record_id)})


def _property_value(schema: ObjectSchema, name: str, value: Any) -> Any:
    """Keep a JSON number's text, except for datetime and date properties, which read it as epoch milliseconds."""
    spec = schema.by_name.get(name)
    if spec is not None and spec.type in ("datetime", "date"):
        return _as_float(value)
    return str(value) if isinstance(value, _JsonNumberText) else value


def _required_text(body: dict[str, Any], field_name: str, example: str) -> str:
    value = body.get(field_name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"missing or invalid {field_name} {value!r}: send a non-empty string, for example {example}")
    return value


def _options(body: dict[str, Any]) -> list[str] | None:
    options = body.get("options")
    if options is not None and not isinstance(options, list):
        raise ValueError(f"invalid options {options!r}: send a list of strings")
    return options


def _add_property(service: HubSpotService, object_type: str, body: dict[str, Any]) -> Response:
    spec = PropertySpec(
        name=_required_text(body, "name", '"external_id"'),
        label=_required_text(body, "label", '"External id"'),
        type=_required_text(body, "type", '"number"'),
        options=tuple(_options(body) or ()),
    )
    try:
        added = service.dataset.add_property(object_type, spec)
    except PropertyExistsError as error:
        logger.info("Control API rejected adding %s property %s: %s", object_type, spec.name, error)
        return _error(409, str(error))
    return json_response(201, added.to_wire())


def _redefine_property(service: HubSpotService, object_type: str, name: str, body: dict[str, Any]) -> Response:
    new_type = _required_text(body, "type", '"string"')
    try:
        redefined = service.dataset.redefine_property(object_type, name, new_type, options=_options(body))
    except PropertyNotFoundError as error:
        logger.info("Control API rejected redefining %s property %s: %s", object_type, name, error)
        return _error(404, str(error))
    return json_response(200, redefined.to_wire())


def _archive(service: HubSpotService, object_type: str, raw_id: str, body: dict[str, Any]) -> Response:
    archived_at = _instant(body.get("archivedAt"), "archivedAt")
    try:
        service.dataset.archive(object_type, raw_id, archived_at)
    except RecordNotFoundError as error:
        return _error(404, str(error))
    record = service.dataset.get(object_type, int(raw_id))
    return json_response(200, {"id": raw_id, "archivedAt": record.archived_at if record is not None else None})
