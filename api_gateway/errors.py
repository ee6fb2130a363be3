"""Errors of the HTTP layer and the handlers that turn every error into the JSON error envelope.

Every error response has the body ``{"success": false, "error": <message>, "code": <CODE>,
"details": {...}}``. Domain errors carry their own status and code. Litestar's own errors (routing,
parameter validation, body size) are mapped by status, and any other exception becomes a logged 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from api_gateway.dagster_client import DagsterUnavailable
from connectors.errors import ConnectorError, CredentialsRejected, InvalidConfig, InvalidCredentials
from resources.services.errors import Conflict, NotFound, ServiceError
from resources.vault import VaultError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class InvalidJson(ServiceError):
    status = 400
    code = "INVALID_JSON"


class Unauthorised(ServiceError):
    status = 401
    code = "UNAUTHORISED"


class Forbidden(ServiceError):
    status = 403
    code = "FORBIDDEN"


class WorkspaceRequired(ServiceError):
    status = 400
    code = "WORKSPACE_REQUIRED"


class WorkspaceNotFound(NotFound):
    code = "WORKSPACE_NOT_FOUND"


class ConnectionDisabled(Conflict):
    code = "CONNECTION_DISABLED"


class SyncInProgress(Conflict):
    code = "SYNC_IN_PROGRESS"


class RunNotActive(Conflict):
    code = "RUN_NOT_ACTIVE"


class DatabaseUnavailable(ServiceError):
    status = 503
    code = "DATABASE_UNAVAILABLE"


# Codes of Litestar's own HTTP errors, by status.
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORISED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
INTERNAL_ERROR_MESSAGE = (
    "internal server error; it has been logged on the server. Retry later, and report it if it persists"
)


def error_response(
    status: int,
    message: str,
    code: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body = {"success": False, "error": message, "code": code, "details": details or {}}
    return Response(body, status_code=status, headers=headers)


def handle_service_error(request: Request[Any, Any, Any], error: ServiceError) -> Response[dict[str, Any]]:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return error_response(error.status, error.message, error.code, error.details, headers)


def handle_connector_error(request: Request[Any, Any, Any], error: ConnectorError) -> Response[dict[str, Any]]:
    """Map a connector failure to 400 or 502.

    ``ConnectorError`` requires messages without secrets, so the message is shown to the caller.
    """
    if isinstance(error, CredentialsRejected):
        return error_response(400, str(error), "CREDENTIALS_REJECTED")
    if isinstance(error, (InvalidCredentials, InvalidConfig)):
        return error_response(400, str(error), "VALIDATION_ERROR", {"field": error.field})
    logger.warning("provider error on %s %s: %s", request.method, request.url.path, error)
    return error_response(502, str(error), "PROVIDER_ERROR", {"connectorCode": error.code})


def handle_dagster_unavailable(
    request: Request[Any, Any, Any], error: DagsterUnavailable
) -> Response[dict[str, Any]]:
    logger.warning("Dagster unavailable on %s %s: %s", request.method, request.url.path, error)
    return error_response(503, str(error), "DAGSTER_UNAVAILABLE")


def handle_vault_error(request: Request[Any, Any, Any], error: VaultError) -> Response[dict[str, Any]]:
    """Report stored credentials that cannot be decrypted. Vault messages name key ids, not secrets."""
    logger.error("stored credentials unreadable on %s %s: %s", request.method, request.url.path, error)
    return error_response(500, str(error), "CREDENTIALS_UNREADABLE")


def _validation_error(error: ValidationException) -> Response[dict[str, Any]]:
    problems = error.extra if isinstance(error.extra, list) else []
    first = problems[0] if problems and isinstance(problems[0], dict) else {}
    field = first.get("key")
    if field is None:
        return error_response(400, error.detail, "VALIDATION_ERROR")
    source = str(getattr(first.get("source"), "value", first.get("source") or "request"))
    message = f"invalid {source} parameter {field}: {first.get('message', 'invalid value')}"
    return error_response(400, message, "VALIDATION_ERROR", {"field": field, "source": source})


def _http_error_message(request: Request[Any, Any, Any], error: HTTPException) -> str:
    status = error.status_code
    if status == 404:
        return f"no endpoint matches {request.method} {request.url.path}"
    if status == 405:
        allowed = (error.headers or {}).get("allow", "")
        return f"method {request.method} is not allowed on {request.url.path}; allowed methods: {allowed}"
    if status == 413:
        return f"request body is larger than the {MAX_BODY_BYTES // 1024} KiB limit; send a smaller body"
    if status == 429:
        return "too many requests; wait for the time in the Retry-After header, then retry"
    if status >= 500:
        return INTERNAL_ERROR_MESSAGE
    return error.detail or HTTPStatus(status).phrase


def handle_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    """Wrap Litestar's own errors (routing, parameters, body size) in the envelope."""
    if isinstance(error, ValidationException):
        return _validation_error(error)
    if error.status_code >= 500:
        logger.error(
            "server error %s on %s %s: %s", error.status_code, request.method, request.url.path, error.detail
        )
    code = _HTTP_CODES.get(error.status_code, HTTPStatus(error.status_code).name)
    return error_response(
        error.status_code, _http_error_message(request, error), code, headers=error.headers or None
    )


def handle_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    # Only the method and path are logged: bodies and headers may contain credentials.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, INTERNAL_ERROR_MESSAGE, "INTERNAL_ERROR")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        ServiceError: handle_service_error,
        ConnectorError: handle_connector_error,
        DagsterUnavailable: handle_dagster_unavailable,
        VaultError: handle_vault_error,
        HTTPException: handle_http_exception,
        Exception: handle_unexpected_error,
    }
