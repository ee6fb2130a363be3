"""The ``/_emulator/`` control API: faults, the request log and record changes.

It needs no token and serves only clients on the loopback interface.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from .dataset import RecordNotFoundError
from .schema import resolve_object_type
from .service import HubSpotService, Response, json_response
from .timeutil import parse_instant_ms


def _error(status: int, message: str) -> Response:
    return json_response(status, {"status": "error", "message": message})


def _parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"invalid JSON in the request body: {error}") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _instant(value: Any, field_name: str) -> datetime | None:
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
    try:
        body = _parse_json_object(raw_body) if method == "POST" else {}
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
    if len(parts) >= 2 and parts[0] == "records" and method == "POST":
        object_type = resolve_object_type(parts[1])
        if object_type is None:
            return _error(404, f"unknown object type {parts[1]!r}. Use contacts, companies or deals")
        if len(parts) == 2:
            return _upsert(service, object_type, body)
        if len(parts) == 4 and parts[3] == "archive":
            return _archive(service, object_type, parts[2], body)
    return _error(404, f"no control endpoint matches {method} {path}")


def _upsert(service: HubSpotService, object_type: str, body: dict[str, Any]) -> Response:
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        raise ValueError("properties must be an object mapping property names to values")
    modified_at = _instant(body.get("modifiedAt"), "modifiedAt")
    record_id = service.dataset.upsert(object_type, body.get("id"), properties, modified_at)
    return json_response(200, {"id": str(record_id)})


def _archive(service: HubSpotService, object_type: str, raw_id: str, body: dict[str, Any]) -> Response:
    archived_at = _instant(body.get("archivedAt"), "archivedAt")
    try:
        service.dataset.archive(object_type, raw_id, archived_at)
    except RecordNotFoundError as error:
        return _error(404, str(error))
    record = service.dataset.get(object_type, int(raw_id))
    return json_response(200, {"id": raw_id, "archivedAt": record.archived_at if record is not None else None})
