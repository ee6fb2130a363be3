"""Cursor resets (PATCH a connection) and variant connections."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from api_gateway.auth import Caller, requires_role
from api_gateway.controllers.connections import reload_dagster_code
from api_gateway.dagster_client import DagsterClient
from api_gateway.errors import SyncInProgress
from opbox_dagster.sync.run_records import active_run_id
from resources.app_db.session import session_scope
from resources.services.audit import CURSOR_RESET, VARIANT_CREATE, record_audit
from resources.services.connections import get_connection
from resources.services.cursors import apply_cursor_reset, parse_cursor_reset
from resources.services.variants import create_variant, parse_variant_input
from resources.settings import Settings
from resources.vault import Vault

logger = logging.getLogger(__name__)

# Characters of a webhook token shown in a variant's creation response. The full URL is revealed
# only through the audit-logged webhook-url endpoint.
SHOWN_TOKEN_CHARS = 8


class ConnectionStateController(Controller):
    path = "/connections"
    tags = ["connections"]

    @patch("/{connection_id:str}", guards=[requires_role("ADMIN")], sync_to_thread=True, summary="Reset sync cursor")
    def reset_cursor(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            stream, cursor = parse_cursor_reset(connection, payload)
            running = active_run_id(settings, connection.id)
            if running is not None:
                # A finishing run would write its own cursor over the reset, so it must end first.
                raise SyncInProgress(
                    f"connection {connection_id} has an active sync run {running}; stop it or let it "
                    "finish before resetting cursors",
                    activeRunId=running,
                )
            change = apply_cursor_reset(session, connection, stream, cursor)
            record_audit(
                session,
                caller,
                CURSOR_RESET,
                target_id=connection.id,
                details={"stream": stream, "cleared": cursor is None, "cursor": cursor, "version": change.sync_state["version"]},
            )
        logger.info(
            "connection %s cursor %s by user %s (stream %s, state version %d)",
            connection_id,
            "cleared" if cursor is None else "set",
            caller.user_id,
            stream,
            change.sync_state["version"],
        )
        return {"success": True, "syncState": change.sync_state, "message": change.message}

    @post("/{connection_id:str}/variants", guards=[requires_role("ADMIN")], sync_to_thread=True, summary="Create a variant connection")
    def create_variant(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
        vault: NamedDependency[Vault],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        data = parse_variant_input(payload)
        with session_scope(settings.database_url) as session:
            source = get_connection(session, caller.workspace_id, connection_id)
            variant = create_variant(session, vault, settings, source, data, caller.user_id)
            record_audit(
                session,
                caller,
                VARIANT_CREATE,
                target_id=variant.id,
                details={"sourceId": source.id, "variantGroupId": variant.variant_group_id, "variantLabel": variant.variant_label},
            )
            token = vault.decrypt(variant.webhook_token_encrypted)
            body = {
                "id": variant.id,
                "name": variant.name,
                "type": variant.type,
                "variantGroupId": variant.variant_group_id,
                "variantLabel": variant.variant_label,
                "status": variant.status,
                # Masked: tokens never appear whole in API responses.
                "webhookToken": token[:SHOWN_TOKEN_CHARS] + "...",
                "createOwnTables": bool(variant.config.get("createOwnTables")),
            }
        logger.info("variant %s (%s) of connection %s created", body["id"], body["variantLabel"], connection_id)
        reload_dagster_code(dagster)
        return body
