"""Organisations, workspaces, users, memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from resources.app_db.models import ApiKey, Membership, Organisation, User, Workspace, utc_now
from resources.secrets_hashing import hash_secret, new_api_key
from resources.services.slugs import unique_slug

ROLES = ("OWNER", "ADMIN", "MEMBER", "VIEWER")


@dataclass(frozen=True)
class Bootstrap:
    organisation_id: str
    workspace_id: str
    workspace_slug: str
    user_id: str
    api_key: str


def create_organisation(session: Session, name: str) -> Organisation:
    slug = unique_slug(name, lambda value: session.scalar(select(Organisation.id).where(Organisation.slug == value)) is not None)
    organisation = Organisation(name=name, slug=slug)
    session.add(organisation)
    session.flush()
    return organisation


def create_workspace(session: Session, organisation_id: str, name: str) -> Workspace:
    slug = unique_slug(name, lambda value: session.scalar(select(Workspace.id).where(Workspace.slug == value)) is not None)
    workspace = Workspace(organisation_id=organisation_id, name=name, slug=slug)
    session.add(workspace)
    session.flush()
    return workspace


def get_or_create_user(session: Session, email: str, name: str = "") -> User:
    user = session.scalar(select(User).where(User.email == email.lower()))
    if user is None:
        user = User(email=email.lower(), name=name)
        session.add(user)
        session.flush()
    return user


def add_membership(session: Session, user_id: str, organisation_id: str, role: str, workspace_id: str | None = None) -> Membership:
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not valid; use one of {', '.join(ROLES)}")
    membership = Membership(user_id=user_id, organisation_id=organisation_id, workspace_id=workspace_id, role=role)
    session.add(membership)
    session.flush()
    return membership


def create_api_key(session: Session, user_id: str, default_workspace_id: str | None, name: str = "") -> tuple[ApiKey, str]:
    """Store a new key's hash and return the record with the key itself, shown once."""
    key, prefix, key_hash = new_api_key()
    record = ApiKey(user_id=user_id, default_workspace_id=default_workspace_id, name=name, prefix=prefix, key_hash=key_hash)
    session.add(record)
    session.flush()
    return record, key


def find_api_key(session: Session, key: str) -> ApiKey | None:
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(key)))
    if record is None or record.revoked_at is not None:
        return None
    return record


def bootstrap_owner(session: Session, *, organisation_name: str, workspace_name: str, email: str) -> Bootstrap:
    """Create an organisation, its first workspace and an owner with an API key."""
    organisation = create_organisation(session, organisation_name)
    workspace = create_workspace(session, organisation.id, workspace_name)
    user = get_or_create_user(session, email, name="Owner")
    add_membership(session, user.id, organisation.id, "OWNER")
    _, key = create_api_key(session, user.id, workspace.id, name="owner key")
    return Bootstrap(organisation.id, workspace.id, workspace.slug, user.id, key)


def touch_api_key(session: Session, record: ApiKey) -> None:
    record.last_used_at = utc_now()


def set_membership(
    session: Session, user_id: str, organisation_id: str, role: str, workspace_id: str | None = None
) -> Membership:
    """Give the user ``role`` in the organisation (``workspace_id`` None) or one workspace.

    An existing membership at that level has its role replaced, so a user has one role per level.
    """
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user_id,
            Membership.organisation_id == organisation_id,
            Membership.workspace_id.is_(None) if workspace_id is None else Membership.workspace_id == workspace_id,
        )
    )
    if existing is None:
        return add_membership(session, user_id, organisation_id, role, workspace_id)
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not valid; use one of {', '.join(ROLES)}")
    existing.role = role
    session.flush()
    return existing


def find_api_keys_by_reference(session: Session, reference: str) -> list[ApiKey]:
    """Return the keys whose id is ``reference`` or whose visible prefix starts with it."""
    by_id = session.get(ApiKey, reference)
    if by_id is not None:
        return [by_id]
    return list(session.scalars(select(ApiKey).where(ApiKey.prefix.startswith(reference, autoescape=True))))


def revoke_api_key(session: Session, record: ApiKey) -> None:
    """Mark the key revoked. A revoked key stays listed but no longer authenticates."""
    if record.revoked_at is None:
        record.revoked_at = utc_now()
