"""Create, read, update and delete connections, with every input check in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Connector
from connectors.errors import ConnectorError, InvalidConfig, InvalidCredentials
from connectors.network_guard import validate_base_url
from connectors.registry import connector_class
from resources.app_db.models import Connection
from resources.destination import table_base_name
from resources.secrets_hashing import hash_secret, new_webhook_token
from resources.services.errors import NotFound, ValidationFailed
from resources.services.slugs import unique_slug
from resources.settings import Settings
from resources.vault import Vault

MAX_NAME_CHARS = 255
FREQUENCIES = ("hourly", "daily", "weekly", "monthly")


@dataclass(frozen=True)
class ConnectionInput:
    name: str
    type: str
    credentials: dict[str, Any]
    config: dict[str, Any]
    schedule: dict[str, Any] | None
    notify_user_ids: list[str]


def reject_unknown_fields(payload: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Raise ``ValidationFailed`` naming the first top-level field (alphabetically) that is not allowed."""
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]} is not a field of this request; allowed fields: {', '.join(allowed)}",
            field=unknown[0],
        )


def validate_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("name is required and must be a non-empty string", field="name")
    if len(value.strip()) > MAX_NAME_CHARS:
        raise ValidationFailed(f"name must be at most {MAX_NAME_CHARS} characters", field="name")
    return value.strip()


def validate_type(value: Any) -> type[Connector]:
    if not isinstance(value, str) or not value:
        raise ValidationFailed("type is required and must be a connector type string", field="type")
    try:
        return connector_class(value)
    except ConnectorError as error:
        raise ValidationFailed(str(error), field="type") from error


def validate_schedule(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed("schedule must be an object with enabled and frequency", field="schedule")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValidationFailed("schedule.enabled must be true or false", field="schedule.enabled")
    frequency = value.get("frequency")
    if frequency not in FREQUENCIES:
        raise ValidationFailed(
            f"schedule.frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}",
            field="schedule.frequency",
        )
    return {"enabled": enabled, "frequency": frequency}


def validate_notify_user_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValidationFailed("notifyUserIds must be an array of user id strings", field="notifyUserIds")
    return list(dict.fromkeys(value))


def validate_config(connector: type[Connector], value: Any, settings: Settings) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("config must be a JSON object", field="config")
    config = dict(value)
    if "baseUrl" in config:
        try:
            config["baseUrl"] = validate_base_url(
                config["baseUrl"], allow_private_network=settings.allow_private_network
            )
        except InvalidConfig as error:
            raise ValidationFailed(str(error), field=error.field) from error
    if "createOwnTables" in config and not isinstance(config["createOwnTables"], bool):
        raise ValidationFailed("config.createOwnTables must be true or false", field="config.createOwnTables")
    return config


def validate_credentials(connector: type[Connector], value: Any) -> dict[str, str]:
    if value is None:
        raise ValidationFailed("credentials is required", field="credentials")
    try:
        return connector.validate_credentials(value)
    except InvalidCredentials as error:
        raise ValidationFailed(str(error), field=error.field) from error


def parse_connection_input(body: dict[str, Any], settings: Settings) -> ConnectionInput:
    name = validate_name(body.get("name"))
    connector = validate_type(body.get("type"))
    return ConnectionInput(
        name=name,
        type=connector.type,
        credentials=validate_credentials(connector, body.get("credentials")),
        config=validate_config(connector, body.get("config"), settings),
        schedule=validate_schedule(body.get("schedule")),
        notify_user_ids=validate_notify_user_ids(body.get("notifyUserIds")),
    )


def credentials_fingerprint(vault: Vault, credentials: dict[str, str]) -> str:
    """Return e.g. ``apiKey.a1b2...****``: the first field and a keyed digest, never the value."""
    first = sorted(credentials)[0] if credentials else "none"
    digest = vault.fingerprint("\n".join(f"{name}={credentials[name]}" for name in sorted(credentials)))
    return f"{first}.{digest}...****"


def store_credentials(connection: Connection, vault: Vault, credentials: dict[str, str]) -> None:
    connection.credentials_encrypted = vault.encrypt_json(credentials)
    connection.credential_fields = sorted(credentials)
    connection.credentials_fingerprint = credentials_fingerprint(vault, credentials)


def assign_webhook_token(connection: Connection, vault: Vault) -> None:
    token = new_webhook_token()
    connection.webhook_token_hash = hash_secret(token)
    connection.webhook_token_encrypted = vault.encrypt(token)


def create_connection(
    session: Session,
    vault: Vault,
    *,
    workspace_id: str,
    data: ConnectionInput,
    created_by_user_id: str | None,
) -> Connection:
    slug = unique_slug(
        data.name,
        lambda value: session.scalar(
            select(Connection.id).where(Connection.workspace_id == workspace_id, Connection.slug == value)
        )
        is not None,
    )
    connection = Connection(
        workspace_id=workspace_id,
        name=data.name,
        slug=slug,
        type=data.type,
        status="DISCONNECTED",
        config=data.config,
        schedule=data.schedule,
        notify_user_ids=data.notify_user_ids,
        created_by_user_id=created_by_user_id,
        table_prefix=table_base_name(data.name, own_tables=False),
    )
    store_credentials(connection, vault, data.credentials)
    assign_webhook_token(connection, vault)
    session.add(connection)
    session.flush()
    return connection


def get_connection(session: Session, workspace_id: str, connection_id: str) -> Connection:
    """Return the workspace's connection; another workspace's connection is simply not found."""
    connection = session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.workspace_id == workspace_id)
    )
    if connection is None:
        raise NotFound(f"connection {connection_id} was not found in this workspace", connectionId=connection_id)
    return connection


def build_connector(connection: Connection, vault: Vault) -> Connector:
    credentials = vault.decrypt_json(connection.credentials_encrypted)
    return connector_class(connection.type)(credentials, connection.config or {})
