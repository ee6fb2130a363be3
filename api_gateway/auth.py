"""API-key authentication, the caller's active workspace and role, and role guards.

A request authenticates with ``Authorization: Bearer sk_...``. The active workspace is the one
named by the ``X-Opbox-Workspace`` header (id or slug), else the key's default workspace. The
caller's role there is the higher of an organisation-wide OWNER/ADMIN membership and a membership
of that workspace. Organisation-level MEMBER and VIEWER rows grant nothing on their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api_gateway.errors import Forbidden, Unauthorised, WorkspaceNotFound, WorkspaceRequired
from api_gateway.rate_limits import SlidingWindowLimiter, too_many_requests
from resources.app_db.models import ApiKey, Membership, User, Workspace, utc_now
from resources.app_db.session import session_scope
from resources.secrets_hashing import API_KEY_PREFIX
from resources.services.identity import find_api_key, touch_api_key
from resources.settings import Settings

logger = logging.getLogger(__name__)

WORKSPACE_HEADER = "X-Opbox-Workspace"
ROLE_RANK = {"VIEWER": 1, "MEMBER": 2, "ADMIN": 3, "OWNER": 4}
ORGANISATION_WIDE_ROLES = ("OWNER", "ADMIN")
# last_used_at is rewritten at most once per interval, so busy keys do not write on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request, in the workspace that the request acts on."""

    api_key_id: str
    user_id: str
    email: str
    organisation_id: str
    workspace_id: str
    workspace_slug: str
    role: str
    # The peer address of the connection. Behind a reverse proxy it is the proxy's address, unless
    # uvicorn trusts the proxy's X-Forwarded-For header.
    source_ip: str | None = None


@dataclass(frozen=True)
class _KeyOwner:
    api_key_id: str
    user_id: str
    email: str
    default_workspace_id: str | None


def parse_bearer_key(header: str | None) -> str:
    """Return the API key of an ``Authorization: Bearer sk_...`` header. Errors never echo the key."""
    if not header:
        raise Unauthorised("missing Authorization header; send Authorization: Bearer sk_...")
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(API_KEY_PREFIX):
        raise Unauthorised("Authorization header must have the form Bearer sk_...")
    return key


def _authenticate(settings: Settings, key: str) -> _KeyOwner:
    with session_scope(settings.database_url) as session:
        record = find_api_key(session, key)
        user = session.get(User, record.user_id) if record is not None else None
        if record is None or user is None:
            raise Unauthorised("the API key is invalid or has been revoked; create a new key")
        _record_use(session, record)
        return _KeyOwner(record.id, user.id, user.email, record.default_workspace_id)


def _record_use(session: Session, record: ApiKey) -> None:
    if record.last_used_at is None or utc_now() - record.last_used_at >= LAST_USED_RESOLUTION:
        touch_api_key(session, record)


def find_workspace(session: Session, reference: str) -> Workspace | None:
    return session.scalar(select(Workspace).where(or_(Workspace.id == reference, Workspace.slug == reference)))


def workspace_role(session: Session, user_id: str, workspace: Workspace) -> str | None:
    """Return the user's highest role in the workspace, or None when the user is not a member."""
    memberships = session.scalars(
        select(Membership).where(
            Membership.user_id == user_id,
            or_(
                Membership.workspace_id == workspace.id,
                and_(
                    Membership.workspace_id.is_(None),
                    Membership.organisation_id == workspace.organisation_id,
                    Membership.role.in_(ORGANISATION_WIDE_ROLES),
                ),
            ),
        )
    ).all()
    roles = [membership.role for membership in memberships if membership.role in ROLE_RANK]
    return max(roles, key=ROLE_RANK.__getitem__, default=None)


def _select_workspace(
    settings: Settings, owner: _KeyOwner, header: str | None, source_ip: str | None = None
) -> Caller:
    reference = (header or "").strip() or owner.default_workspace_id
    if not reference:
        raise WorkspaceRequired(
            f"no workspace selected; send the {WORKSPACE_HEADER} header with a workspace id or slug",
            header=WORKSPACE_HEADER,
        )
    with session_scope(settings.database_url) as session:
        workspace = find_workspace(session, reference)
        role = workspace_role(session, owner.user_id, workspace) if workspace is not None else None
        if workspace is None or role is None:
            # A workspace the caller may not see is reported exactly like one that does not exist.
            raise WorkspaceNotFound(
                f"workspace {reference!r} was not found or you are not a member of it",
                workspace=reference,
            )
        return Caller(
            api_key_id=owner.api_key_id,
            user_id=owner.user_id,
            email=owner.email,
            organisation_id=workspace.organisation_id,
            workspace_id=workspace.id,
            workspace_slug=workspace.slug,
            role=role,
            source_ip=source_ip,
        )


def resolve_caller(
    settings: Settings, authorization: str | None, workspace_header: str | None, source_ip: str | None = None
) -> Caller:
    """Authenticate the key, record its use and resolve the active workspace and role."""
    owner = _authenticate(settings, parse_bearer_key(authorization))
    return _select_workspace(settings, owner, workspace_header, source_ip)


class ApiKeyAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Authentication middleware that puts the ``Caller`` in ``request.user``.

    Handlers that need no API key opt out with ``opt={"exclude_from_auth": True}``. An address
    with too many failed authentications in the last minute gets 429 before its key is checked.
    """

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        settings: Settings = connection.app.state.settings
        failures: SlidingWindowLimiter = connection.app.state.auth_failures
        address = connection.client.host if connection.client else None
        wait_seconds = failures.retry_after(address or "unknown")
        if wait_seconds is not None:
            raise too_many_requests(wait_seconds)
        try:
            caller = await anyio.to_thread.run_sync(
                resolve_caller,
                settings,
                connection.headers.get("authorization"),
                connection.headers.get(WORKSPACE_HEADER),
                address,
            )
        except Unauthorised:
            _record_failure(failures, address)
            raise
        return AuthenticationResult(user=caller, auth=caller.api_key_id)


def _record_failure(failures: SlidingWindowLimiter, address: str | None) -> None:
    failures.record(address or "unknown")
    if failures.retry_after(address or "unknown") is not None:
        # Logged once per block: later requests from the address are rejected before this point.
        logger.warning(
            "address %s reached %d failed authentications within %d s; its requests get 429 until "
            "the oldest failure leaves the window",
            address,
            failures.limit,
            failures.window_seconds,
        )


def requires_role(minimum: str) -> Guard:
    """Return a guard that rejects callers whose role in the active workspace is below ``minimum``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        caller: Caller = connection.user
        if ROLE_RANK[caller.role] < ROLE_RANK[minimum]:
            raise Forbidden(
                f"this action requires the {minimum} role or higher in workspace {caller.workspace_slug}; "
                f"your role is {caller.role}",
                requiredRole=minimum,
                role=caller.role,
            )

    return guard
