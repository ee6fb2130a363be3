"""The audit log: who did what to which resource, when and from which address.

Entries are written in the same transaction as the change they describe, so a change that rolls
back leaves no entry. Details hold ids, field names and counts, never secret values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from resources.app_db.models import AuditEntry

logger = logging.getLogger(__name__)

# Actions, as stored in ``AuditEntry.action``. VIEW_SECRET is the name the HTTP contract uses
# for revealing a webhook URL.
CONNECTION_CREATE = "CONNECTION_CREATE"
CONNECTION_UPDATE = "CONNECTION_UPDATE"
CONNECTION_DELETE = "CONNECTION_DELETE"
VARIANT_CREATE = "VARIANT_CREATE"
VIEW_SECRET = "VIEW_SECRET"
CURSOR_RESET = "CURSOR_RESET"
RUN_ALL = "RUN_ALL"
API_KEY_CREATE = "API_KEY_CREATE"
API_KEY_REVOKE = "API_KEY_REVOKE"
MEMBERSHIP_SET = "MEMBERSHIP_SET"
SECRET_KEY_ROTATE = "SECRET_KEY_ROTATE"

DEFAULT_LIST_LIMIT = 50


class AuditActor(Protocol):
    """The user, API key and address behind an audited action. The gateway's ``Caller`` satisfies it."""

    @property
    def user_id(self) -> str | None: ...

    @property
    def api_key_id(self) -> str | None: ...

    @property
    def organisation_id(self) -> str | None: ...

    @property
    def workspace_id(self) -> str | None: ...

    @property
    def source_ip(self) -> str | None: ...


@dataclass(frozen=True)
class OperatorActor:
    """An operator at the server's command line: no user, no API key and no network address."""

    organisation_id: str | None = None
    workspace_id: str | None = None
    user_id: str | None = None
    api_key_id: str | None = None
    source_ip: str | None = None


def record_audit(
    session: Session,
    actor: AuditActor,
    action: str,
    *,
    target_type: str = "connection",
    target_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``, so it commits or rolls back with the caller's change.

    ``details`` must not contain secret values. Store field names, ids and counts instead.
    """
    entry = AuditEntry(
        organisation_id=actor.organisation_id,
        workspace_id=actor.workspace_id,
        actor_user_id=actor.user_id,
        actor_api_key_id=actor.api_key_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        source_ip=actor.source_ip,
        details=dict(details or {}),
    )
    session.add(entry)
    session.flush()
    logger.info(
        "audit %s: %s %s by user %s (key %s) from %s",
        action,
        target_type,
        target_id,
        actor.user_id or "operator",
        actor.api_key_id or "none",
        actor.source_ip or "command line",
    )
    return entry


def list_audit_entries(
    session: Session, *, workspace_id: str | None = None, limit: int = DEFAULT_LIST_LIMIT
) -> list[AuditEntry]:
    """Return the newest entries first, of one workspace when ``workspace_id`` is given."""
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    if workspace_id is not None:
        query = query.where(AuditEntry.workspace_id == workspace_id)
    return list(session.scalars(query))
