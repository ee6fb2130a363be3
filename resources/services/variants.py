"""Variant connections: copies of a connection routed to another endpoint or configuration.

A variant shares its source's credentials (the same ciphertext, never decrypted here) and, by
default, its tables: rows of every variant merge into one table per stream, kept apart by
``_opbox_connection_id`` in the merge key. ``config.createOwnTables: true`` gives a variant tables
named after its own slug instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.registry import connector_class
from resources.app_db.models import Connection
from resources.destination import table_base_name
from resources.services.connections import assign_webhook_token, validate_config, validate_name
from resources.services.errors import ValidationFailed
from resources.services.slugs import unique_slug
from resources.settings import Settings
from resources.vault import Vault

MAX_LABEL_CHARS = 64
VARIANT_FIELDS = ("name", "variantLabel", "config")


@dataclass(frozen=True)
class VariantInput:
    name: str | None
    label: str | None
    config: dict[str, Any]


def parse_variant_input(payload: dict[str, Any]) -> VariantInput:
    unknown = sorted(set(payload) - set(VARIANT_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]} is not a field of a variant; send {', '.join(VARIANT_FIELDS)}", field=unknown[0]
        )
    name = validate_name(payload["name"]) if payload.get("name") is not None else None
    label = payload.get("variantLabel")
    if label is not None and (not isinstance(label, str) or not label.strip() or len(label.strip()) > MAX_LABEL_CHARS):
        raise ValidationFailed(
            f"variantLabel must be a non-empty string of at most {MAX_LABEL_CHARS} characters", field="variantLabel"
        )
    config = payload.get("config") or {}
    if not isinstance(config, dict):
        raise ValidationFailed("config must be a JSON object", field="config")
    return VariantInput(name, label.strip() if label else None, config)


def _next_label(session: Session, group_id: str) -> str:
    """Return the next sequential label of the group: the source counts as 1, so "2", "3", …"""
    members = session.scalar(select(func.count()).select_from(Connection).where(Connection.variant_group_id == group_id))
    used = set(session.scalars(select(Connection.variant_label).where(Connection.variant_group_id == group_id)))
    number = int(members or 1) + 1
    while str(number) in used:
        number += 1
    return str(number)


def create_variant(
    session: Session, vault: Vault, settings: Settings, source: Connection, data: VariantInput, created_by_user_id: str | None
) -> Connection:
    """Create a variant of ``source``, backfilling the source's group id when it has none."""
    if source.variant_group_id is None:
        source.variant_group_id = source.id
    group_id = source.variant_group_id
    label = data.label or _next_label(session, group_id)
    base_name = table_base_name(source.name, own_tables=False)
    name = data.name or f"{source.name} ({label})"
    config = validate_config(connector_class(source.type), {**(source.config or {}), **data.config}, settings)
    slug = unique_slug(
        name,
        lambda value: session.scalar(
            select(Connection.id).where(Connection.workspace_id == source.workspace_id, Connection.slug == value)
        )
        is not None,
    )
    variant = Connection(
        workspace_id=source.workspace_id,
        name=name,
        slug=slug,
        type=source.type,
        status="DISCONNECTED",
        enabled=source.enabled,
        credentials_encrypted=source.credentials_encrypted,
        credential_fields=list(source.credential_fields or []),
        credentials_fingerprint=source.credentials_fingerprint,
        config=config,
        schedule=dict(source.schedule) if source.schedule else None,
        notify_user_ids=list(source.notify_user_ids or []),
        variant_group_id=group_id,
        variant_label=label,
        table_prefix=source.table_prefix or base_name,
        created_by_user_id=created_by_user_id,
    )
    assign_webhook_token(variant, vault)
    session.add(variant)
    session.flush()
    return variant
