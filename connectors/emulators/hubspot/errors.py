"""HubSpot-style error responses.

HubSpot reports errors with a JSON body such as
``{"status": "error", "message": ..., "correlationId": <uuid>, "category": ...}``.
The builders here give the bodies the emulator sends.
"""

from __future__ import annotations

import uuid
from typing import Any

AUTHENTICATION_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
MISSING_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. "
    "Read more about required scopes here: https://developers.hubspot.com/scopes."
)
SECONDLY_LIMIT_MESSAGE = "You have reached your secondly limit."


class ApiError(Exception):
    """An error response: HTTP status plus the HubSpot error body."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }


def validation_error(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def invalid_authentication() -> ApiError:
    return ApiError(401, "INVALID_AUTHENTICATION", AUTHENTICATION_MESSAGE)


def missing_scopes(object_type: str | None) -> ApiError:
    scope = f"crm.objects.{object_type}.read" if object_type else "crm.objects.contacts.read"
    return ApiError(
        403,
        "MISSING_SCOPES",
        MISSING_SCOPES_MESSAGE,
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [scope]},
            }
        ],
        links={"scopes": "https://developers.hubspot.com/scopes"},
    )


def object_type_not_found(name: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {name}")


def route_not_found(method: str, path: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"No endpoint matches {method} {path} in the HubSpot emulator.")


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not supported on {path} by the HubSpot emulator.")


def rate_limit_body() -> dict[str, Any]:
    """Return the body HubSpot sends when the per-second limit is exceeded (no ``category`` field)."""
    return {
        "status": "error",
        "message": SECONDLY_LIMIT_MESSAGE,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "SECONDLY",
    }


def default_fault_body(status: int) -> dict[str, Any]:
    """Return a plausible HubSpot body for a scripted fault that gives no body of its own."""
    if status < 400:
        return {}
    if status == 429:
        return rate_limit_body()
    if status == 401:
        return invalid_authentication().body
    if status == 403:
        return missing_scopes(None).body
    if status >= 500:
        return ApiError(status, "INTERNAL_ERROR", "An internal error occurred (scripted by the emulator).").body
    return ApiError(status, "VALIDATION_ERROR", "The request failed (scripted by the emulator).").body
