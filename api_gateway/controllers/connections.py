"""Connections of the active workspace: list, create, read, update and delete."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import select
from sqlalchemy.orm import Session

from api_gateway.auth import Caller, requires_role
from api_gateway.controllers.runs import cancel_active_run
from api_gateway.controllers.tables import describe_tables
from api_gateway.dagster_client import DagsterClient, DagsterUnavailable
from api_gateway.serializers import connection_json
from connectors.base import Connector
from connectors.registry import connector_class
from resources.app_db.models import Connection, Membership
from resources.app_db.session import session_scope
from resources.services.connections import (
    reject_unknown_fields,
    create_connection,
    get_connection,
    parse_connection_input,
    store_credentials,
    validate_config,
    validate_credentials,
    validate_name,
    validate_notify_user_ids,
    validate_schedule,
)
from resources.services.audit import CONNECTION_CREATE, CONNECTION_DELETE, CONNECTION_UPDATE, record_audit
from resources.services.errors import ValidationFailed
from resources.settings import Settings
from resources.vault import Vault

logger = logging.getLogger(__name__)

UPDATABLE_FIELDS = ("name", "credentials", "config", "schedule", "notifyUserIds", "enabled")
CREATE_FIELDS = ("name", "type", "credentials", "config", "schedule", "notifyUserIds")


def reload_dagster_code(dagster: DagsterClient | None) -> None:
    """Ask Dagster to reload the code location. A failure is logged and does not fail the request."""
    if dagster is None:
        return
    try:
        dagster.reload_code_location()
    except DagsterUnavailable as error:
        logger.warning(
            "connections changed but the Dagster code location was not reloaded: %s. Syncs of new "
            "or changed connections fail until Dagster reloads it",
            error,
        )


def validate_notify_targets(session: Session, organisation_id: str, user_ids: list[str]) -> None:
    """Raise ``ValidationFailed`` unless every user id belongs to a member of the organisation."""
    if not user_ids:
        return
    members = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.organisation_id == organisation_id, Membership.user_id.in_(user_ids)
            )
        )
    )
    unknown = [user_id for user_id in user_ids if user_id not in members]
    if unknown:
        raise ValidationFailed(
            f"notifyUserIds contains {unknown[0]!r}, which is not a member of this organisation",
            field="notifyUserIds",
            unknownUserIds=unknown,
        )


def merge_config(
    connector: type[Connector], current: dict[str, Any], update: Any, settings: Settings
) -> dict[str, Any]:
    """Return ``current`` with the keys of ``update`` set, and removed where their value is null.

    A merge, not a replacement, so that ``{"config": {"createOwnTables": true}}`` keeps the base URL.
    ``"config": null`` clears the whole config.
    """
    if update is None:
        return {}
    if not isinstance(update, dict):
        raise ValidationFailed("config must be a JSON object", field="config")
    merged = {**current, **update}
    merged = {key: value for key, value in merged.items() if value is not None}
    return validate_config(connector, merged, settings)


def share_credentials_with_variants(session: Session, connection: Connection, previous_ciphertext: str) -> None:
    """Give the new credentials to the variants that still used the old ones.

    Variants use their source's credentials by reference: they store the same ciphertext. Only a
    change at the source (the connection whose id is the group id) reaches them; a variant given
    credentials of its own keeps them and no longer follows the source.
    """
    if connection.variant_group_id != connection.id:
        return
    sharing = session.scalars(
        select(Connection).where(
            Connection.variant_group_id == connection.variant_group_id,
            Connection.id != connection.id,
            Connection.credentials_encrypted == previous_ciphertext,
        )
    )
    for variant in sharing:
        variant.credentials_encrypted = connection.credentials_encrypted
        variant.credential_fields = list(connection.credential_fields)
        variant.credentials_fingerprint = connection.credentials_fingerprint
        variant.status = "DISCONNECTED"


def validate_update_fields(payload: dict[str, Any], current_type: str) -> None:
    if payload.get("type", current_type) != current_type:
        raise ValidationFailed(
            "type cannot be changed; create a new connection of the other type instead", field="type"
        )
    for key in payload:
        if key not in UPDATABLE_FIELDS and key != "type":
            raise ValidationFailed(
                f"{key} is not an updatable field; updatable fields: {', '.join(UPDATABLE_FIELDS)}",
                field=key,
            )


def apply_update(
    session: Session,
    connection: Connection,
    payload: dict[str, Any],
    *,
    organisation_id: str,
    settings: Settings,
    vault: Vault,
) -> None:
    """Validate and apply each field present in ``payload``.

    ``type`` may be sent only with the current value. The caller's transaction rolls back on any
    error, so a rejected update changes nothing.
    """
    validate_update_fields(payload, connection.type)
    connector = connector_class(connection.type)
    if "name" in payload:
        # Tables keep their prefix (fixed at creation), so a rename does not move the data.
        connection.name = validate_name(payload["name"])
    if "credentials" in payload:
        previous = connection.credentials_encrypted
        store_credentials(connection, vault, validate_credentials(connector, payload["credentials"]))
        # New credentials have not been checked against the provider yet.
        connection.status = "DISCONNECTED"
        share_credentials_with_variants(session, connection, previous)
    if "config" in payload:
        config = merge_config(connector, dict(connection.config or {}), payload["config"], settings)
        if config.get("baseUrl") != (connection.config or {}).get("baseUrl"):
            connection.status = "DISCONNECTED"
        connection.config = config
    if "schedule" in payload:
        connection.schedule = validate_schedule(payload["schedule"])
    if "notifyUserIds" in payload:
        user_ids = validate_notify_user_ids(payload["notifyUserIds"])
        validate_notify_targets(session, organisation_id, user_ids)
        connection.notify_user_ids = user_ids
    if "enabled" in payload:
        if not isinstance(payload["enabled"], bool):
            raise ValidationFailed("enabled must be true or false", field="enabled")
        connection.enabled = payload["enabled"]


class ConnectionsController(Controller):
    path = "/connections"
    tags = ["connections"]

    @get("/", guards=[requires_role("VIEWER")], sync_to_thread=True, summary="List connections")
    def list_connections(
        self,
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            connections = session.scalars(
                select(Connection)
                .where(Connection.workspace_id == caller.workspace_id)
                .order_by(Connection.created_at, Connection.id)
            ).all()
            return {"connections": [connection_json(item) for item in connections]}

    @post("/", guards=[requires_role("ADMIN")], sync_to_thread=True, summary="Create a connection")
    def create(
        self,
        caller: NamedDependency[Caller],
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
        vault: NamedDependency[Vault],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        reject_unknown_fields(payload, CREATE_FIELDS)
        data = parse_connection_input(payload, settings)
        with session_scope(settings.database_url) as session:
            validate_notify_targets(session, caller.organisation_id, data.notify_user_ids)
            connection = create_connection(
                session, vault, workspace_id=caller.workspace_id, data=data, created_by_user_id=caller.user_id
            )
            record_audit(
                session, caller, CONNECTION_CREATE, target_id=connection.id, details={"type": data.type, "name": data.name}
            )
            body = connection_json(connection)
        logger.info(
            "connection %s (%s) created in workspace %s", body["id"], data.type, caller.workspace_slug
        )
        reload_dagster_code(dagster)
        return body

    @get(
        "/{connection_id:str}",
        guards=[requires_role("VIEWER")],
        sync_to_thread=True,
        summary="Get a connection with its tables",
    )
    def get_details(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            tables = describe_tables(settings, session, connection, caller.workspace_slug)
            return {**connection_json(connection), "tables": tables}

    @put(
        "/{connection_id:str}",
        guards=[requires_role("ADMIN")],
        sync_to_thread=True,
        summary="Update a connection",
    )
    def update(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
        vault: NamedDependency[Vault],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            apply_update(
                session,
                connection,
                payload,
                organisation_id=caller.organisation_id,
                settings=settings,
                vault=vault,
            )
            record_audit(session, caller, CONNECTION_UPDATE, target_id=connection.id, details={"fields": sorted(payload)})
            session.flush()
            body = connection_json(connection)
        logger.info("connection %s updated (%s)", connection_id, ", ".join(sorted(payload)) or "no fields")
        reload_dagster_code(dagster)
        return body

    @delete(
        "/{connection_id:str}",
        status_code=200,
        guards=[requires_role("ADMIN")],
        sync_to_thread=True,
        summary="Delete a connection",
    )
    def remove(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            get_connection(session, caller.workspace_id, connection_id)
        cancel_active_run(settings, dagster, connection_id, f"connection deleted by {caller.email}")
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            record_audit(session, caller, CONNECTION_DELETE, target_id=connection.id, details={"name": connection.name})
            session.delete(connection)
        logger.info("connection %s deleted from workspace %s", connection_id, caller.workspace_slug)
        reload_dagster_code(dagster)
        return {"success": True}
