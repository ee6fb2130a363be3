"""Calls to a provider on behalf of a connection: credential test, health check and stream discovery."""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from api_gateway.auth import Caller, requires_role
from api_gateway.serializers import discovered_stream_json, health_report_json
from connectors.base import Connector, HealthReport
from connectors.errors import ConnectorError
from resources.app_db.models import utc_now
from resources.app_db.session import session_scope
from resources.services.connections import (
    reject_unknown_fields,
    build_connector,
    get_connection,
    validate_config,
    validate_credentials,
    validate_type,
)
from resources.settings import Settings
from resources.vault import Vault

logger = logging.getLogger(__name__)

TEST_FIELDS = ("type", "credentials", "config")

SUCCESS_MESSAGE = "Connection successful"


def run_health_check(connector: Connector) -> HealthReport:
    """Return the connector's health report, turning a connector error into an unhealthy report."""
    started = time.perf_counter()
    try:
        return connector.check()
    except ConnectorError as error:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        return HealthReport(False, str(error), elapsed_ms)


def load_connector(settings: Settings, vault: Vault, workspace_id: str, connection_id: str) -> Connector:
    with session_scope(settings.database_url) as session:
        return build_connector(get_connection(session, workspace_id, connection_id), vault)


def save_status(settings: Settings, workspace_id: str, connection_id: str, status: str) -> None:
    with session_scope(settings.database_url) as session:
        get_connection(session, workspace_id, connection_id).status = status


class ConnectionChecksController(Controller):
    path = "/connections"
    tags = ["connections"]

    @post(
        "/test",
        guards=[requires_role("MEMBER")],
        status_code=200,
        sync_to_thread=True,
        summary="Test credentials without saving a connection",
    )
    def test_credentials(
        self,
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        reject_unknown_fields(payload, TEST_FIELDS)
        connector = validate_type(payload.get("type"))
        credentials = validate_credentials(connector, payload.get("credentials"))
        config = validate_config(connector, payload.get("config"), settings)
        connector(credentials, config).test_credentials()
        return {"success": True, "message": SUCCESS_MESSAGE}

    @post(
        "/{connection_id:str}/check",
        guards=[requires_role("MEMBER")],
        status_code=200,
        sync_to_thread=True,
        summary="Check a connection's health and record its status",
    )
    def check(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        vault: NamedDependency[Vault],
    ) -> dict[str, Any]:
        # The provider call runs outside any database transaction.
        report = run_health_check(load_connector(settings, vault, caller.workspace_id, connection_id))
        checked_at = utc_now()
        status = "CONNECTED" if report.healthy else "ERROR"
        save_status(settings, caller.workspace_id, connection_id, status)
        logger.info("connection %s health check: %s (%s)", connection_id, status, report.message)
        return health_report_json(report, checked_at)

    @post(
        "/{connection_id:str}/discover",
        guards=[requires_role("MEMBER")],
        status_code=200,
        sync_to_thread=True,
        summary="Discover a connection's streams and their fields",
    )
    def discover(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        vault: NamedDependency[Vault],
    ) -> dict[str, Any]:
        connector = load_connector(settings, vault, caller.workspace_id, connection_id)
        return {"streams": [discovered_stream_json(stream) for stream in connector.discover()]}
