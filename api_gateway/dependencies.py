"""Dependency providers of the gateway: settings, vault, Dagster client, caller and JSON body.

``create_app`` stores the settings, vault and Dagster client in the application state once, and
the providers hand them to handlers by name.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from api_gateway.auth import Caller
from api_gateway.dagster_client import DagsterClient
from api_gateway.errors import InvalidJson
from resources.services.errors import ValidationFailed
from resources.settings import Settings
from resources.vault import Vault


_JSON_TYPE_NAMES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def provide_settings(state: State) -> Settings:
    return state.settings


def provide_vault(state: State) -> Vault:
    return state.vault


def provide_dagster(state: State) -> DagsterClient | None:
    """Return the Dagster client, or None when the deployment has no Dagster webserver configured."""
    return state.dagster


def provide_caller(request: Request[Caller, str, State]) -> Caller:
    return request.user


async def provide_json_body(request: Request[Any, Any, State]) -> dict[str, Any]:
    """Parse the request body as a JSON object, treating an empty body as an empty object.

    Raises ``InvalidJson`` for a body that is not JSON. The parser's message gives only the
    position of the error, never the body, which may contain credentials.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidJson(f"request body is not valid JSON ({_position(error)}); send a JSON object") from None
    if not isinstance(body, dict):
        raise ValidationFailed(
            f"request body must be a JSON object, not a JSON {_JSON_TYPE_NAMES.get(type(body), 'value')}",
            field="body",
        )
    return body


def _position(error: UnicodeDecodeError | json.JSONDecodeError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {error.start}"
    return f"{error.msg} at line {error.lineno} column {error.colno}"


def gateway_dependencies() -> dict[str, Provide]:
    return {
        "settings": Provide(provide_settings, sync_to_thread=False),
        "vault": Provide(provide_vault, sync_to_thread=False),
        "dagster": Provide(provide_dagster, sync_to_thread=False),
    }


def pipelines_dependencies() -> dict[str, Provide]:
    """Return the providers of routes under ``/api/pipelines``, which all have an authenticated caller."""
    return {
        "caller": Provide(provide_caller, sync_to_thread=False),
        "payload": Provide(provide_json_body),
    }
