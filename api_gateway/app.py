"""The Litestar application factory of the HTTP gateway."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from api_gateway.auth import ApiKeyAuthenticationMiddleware
from api_gateway.controllers.connection_checks import ConnectionChecksController
from api_gateway.controllers.connection_state import ConnectionStateController
from api_gateway.controllers.connections import ConnectionsController
from api_gateway.controllers.connector_types import ConnectorTypesController
from api_gateway.controllers.health import HealthController
from api_gateway.controllers.runs import RunsController
from api_gateway.controllers.tables import TablesController
from api_gateway.controllers.triggers import TriggersController
from api_gateway.controllers.webhook_url import WebhookUrlController
from api_gateway.dagster_client import DagsterClient
from api_gateway.dependencies import gateway_dependencies, pipelines_dependencies
from api_gateway.errors import MAX_BODY_BYTES, exception_handlers
from api_gateway.rate_limits import AUTH_FAILURES_PER_MINUTE, SlidingWindowLimiter
from resources.settings import Settings, load_settings
from resources.vault import load_vault

PIPELINES_PATH = "/api/pipelines"


def pipelines_router() -> Router:
    """Return the router of ``/api/pipelines``, where every route needs an API key.

    A route that must be reachable without a key (a webhook or the cron endpoint) sets
    ``opt={"exclude_from_auth": True}``.
    """
    return Router(
        path=PIPELINES_PATH,
        route_handlers=[
            ConnectorTypesController,
            ConnectionChecksController,
            ConnectionsController,
            ConnectionStateController,
            RunsController,
            TablesController,
            TriggersController,
            WebhookUrlController,
        ],
        middleware=[DefineMiddleware(ApiKeyAuthenticationMiddleware, exclude_from_auth_key="exclude_from_auth")],
        dependencies=pipelines_dependencies(),
    )


def create_app(settings: Settings | None = None, *, dagster: DagsterClient | None = None) -> Litestar:
    """Build the gateway for ``settings`` (default: from the environment).

    Without a ``dagster`` client, one is built from ``settings.dagster_url`` when that is set.
    With neither, every API works except that triggered syncs fail with 503.
    """
    settings = settings or load_settings()
    if dagster is None and settings.dagster_url:
        dagster = DagsterClient(settings.dagster_url)
    return Litestar(
        route_handlers=[HealthController, pipelines_router()],
        state=State(
            {
                "settings": settings,
                "vault": load_vault(settings),
                "dagster": dagster,
                # Failed authentications per client address, counted by the API-key middleware.
                "auth_failures": SlidingWindowLimiter(AUTH_FAILURES_PER_MINUTE),
            }
        ),
        dependencies=gateway_dependencies(),
        exception_handlers=exception_handlers(),
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(title="Opbox Pipelines API", version="0.1.0"),
        # Logging is configured by the process that serves the app, so Litestar must not replace its handlers.
        logging_config=None,
    )
