"""The request pipeline in front of the CRM handlers.

For each API request, in this order: scripted faults, authentication, the
per-second rate limit, the CRM handler, then the request log.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .api import CrmApi, RecordsPayload, encode_json
from .dataset import HubSpotDataset
from .errors import ApiError, default_fault_body, invalid_authentication, missing_scopes, rate_limit_body
from .faults import Fault, FaultRegistry, RequestLog
from .ratelimit import SecondlyLimiter
from .schema import resolve_object_type

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json;charset=utf-8"


@dataclass
class Response:
    """An HTTP response ready to be written. An empty ``content_type`` sends no Content-Type header."""

    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, encode_json(payload), JSON_CONTENT_TYPE, headers or [])


@dataclass(frozen=True)
class ApiRequest:
    """The parts of an HTTP request the pipeline reads."""

    method: str
    path: str
    query_string: str
    body: bytes
    authorization: str | None


class HubSpotService:
    """Handles API requests. It is thread-safe, because the server calls it from one thread per connection."""

    def __init__(
        self,
        dataset: HubSpotDataset,
        token: str,
        *,
        base_url: str = "",
        rate_limit_per_second: int = 0,
        forbidden_tokens: frozenset[str] = frozenset(),
    ) -> None:
        self.dataset = dataset
        self.crm = CrmApi(dataset, base_url)
        self.faults = FaultRegistry()
        self.request_log = RequestLog()
        self.limiter = SecondlyLimiter(rate_limit_per_second)
        self._token = token
        self._forbidden_tokens = forbidden_tokens

    @property
    def base_url(self) -> str:
        return self.crm.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.crm.base_url = value

    def handle(self, request: ApiRequest) -> Response:
        """Run one request through faults, authentication, the rate limit and the CRM handlers, and log it."""
        arrived_at = time.time()
        query = parse_qs(request.query_string, keep_blank_values=True)
        body, body_error = _parse_body(request.body)
        after = _after_cursor(request.method, query, body)

        outcome = self.faults.apply(request.method, request.path, after is not None)
        if outcome is not None and outcome.delay_seconds:
            time.sleep(outcome.delay_seconds)
        if outcome is not None and outcome.response is not None:
            response = _scripted_response(outcome.response)
        else:
            response = self._respond(request, query, body, body_error, after, bool(outcome and outcome.repeat_after))

        self.request_log.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "status": response.status,
                "at": arrived_at,
                "body": body if request.method == "POST" else None,
            }
        )
        logger.debug(
            "%s %s -> %d in %.1f ms",
            request.method,
            request.path,
            response.status,
            (time.time() - arrived_at) * 1000,
        )
        return response

    def _respond(
        self,
        request: ApiRequest,
        query: dict[str, list[str]],
        body: Any,
        body_error: str | None,
        after: str | None,
        repeat_after: bool,
    ) -> Response:
        token = _bearer_token(request.authorization)
        if token is None or (token != self._token and token not in self._forbidden_tokens):
            return json_response(401, invalid_authentication().body)
        if token in self._forbidden_tokens:
            return json_response(403, missing_scopes(_object_type_of(request.path)).body)

        remaining = self.limiter.acquire()
        if remaining is None:
            return json_response(429, rate_limit_body(), self.limiter.headers(0))
        headers = self.limiter.headers(remaining)

        if body_error is not None:
            return json_response(400, ApiError(400, "VALIDATION_ERROR", body_error).body, headers)
        try:
            payload = self.crm.handle(request.method, request.path, query, body)
        except ApiError as error:
            return json_response(error.status, error.body, headers)
        if not isinstance(payload, RecordsPayload):
            return json_response(200, payload, headers)
        if repeat_after and after is not None:
            self._repeat_cursor(payload, request, query, after)
        return Response(200, payload.encode(), JSON_CONTENT_TYPE, headers)

    def _repeat_cursor(
        self, payload: RecordsPayload, request: ApiRequest, query: dict[str, list[str]], after: str
    ) -> None:
        """Offer the request's own cursor as the next page, so the client sees the same token twice."""
        next_page: dict[str, str] = {"after": after}
        if request.method == "GET":
            next_page["link"] = self.crm.page_link(request.path, query, after)
        payload.paging = {"next": next_page}


def _parse_body(raw: bytes) -> tuple[Any, str | None]:
    """Return the parsed JSON body and an error message when it is not valid JSON."""
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"Invalid JSON in the request body: {error}."


def _after_cursor(method: str, query: dict[str, list[str]], body: Any) -> str | None:
    if method == "GET":
        values = query.get("after")
        return values[-1] if values and values[-1] else None
    if isinstance(body, dict) and body.get("after") not in (None, ""):
        return str(body["after"])
    return None


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _object_type_of(path: str) -> str | None:
    parts = [part for part in path.split("/") if part]
    return resolve_object_type(parts[3]) if len(parts) > 3 else None


def _scripted_response(fault: Fault) -> Response:
    status = fault.status if fault.status is not None else 500
    headers = list(fault.headers.items())
    content_type_given = any(name.lower() == "content-type" for name, _ in headers)
    if status in (204, 304):
        body = b""
    elif isinstance(fault.body, str):
        body = fault.body.encode("utf-8")
    elif fault.body is None:
        body = encode_json(default_fault_body(status))
    else:
        body = encode_json(fault.body)
    if content_type_given:
        content_type = ""
    elif isinstance(fault.body, str):
        content_type = "text/plain;charset=utf-8"
    else:
        content_type = JSON_CONTENT_TYPE
    return Response(status, body, content_type, headers)
