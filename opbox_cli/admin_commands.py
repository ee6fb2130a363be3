"""Administration commands: users, memberships, API keys, the audit log and secret key rotation.

They act on the app database named by the environment (``OPBOX_HOME`` or ``OPBOX_DATABASE_URL``),
as the server's operator, so their audit entries have no user, key or address.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api_gateway.auth import ORGANISATION_WIDE_ROLES, find_workspace, workspace_role
from resources.app_db.models import ApiKey, Membership, Organisation, User, Workspace
from resources.app_db.session import migrate, session_scope
from resources.services.audit import (
    API_KEY_CREATE,
    API_KEY_REVOKE,
    DEFAULT_LIST_LIMIT,
    MEMBERSHIP_SET,
    SECRET_KEY_ROTATE,
    OperatorActor,
    list_audit_entries,
    record_audit,
)
from resources.services.identity import (
    ROLES,
    create_api_key,
    find_api_keys_by_reference,
    get_or_create_user,
    revoke_api_key,
    set_membership,
)
from resources.services.key_rotation import count_by_key, rotate_secrets
from resources.settings import Settings, load_settings
from resources.vault import load_vault

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A command cannot run with the given arguments. The message states the reason and the fix."""


def _prepared_settings() -> Settings:
    settings = load_settings()
    migrate(settings.database_url)
    return settings


def _reporting_errors(handler: Callable[[argparse.Namespace, Settings], int]) -> Handler:
    """Wrap ``handler`` to run with migrated settings, printing a ``CommandError`` to stderr and returning 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args, _prepared_settings())
        except CommandError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1

    return run


def _user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise CommandError(f"no user has the email {email!r}; add one with: opbox users add --email {email}")
    return user


def _workspace(session: Session, reference: str) -> Workspace:
    workspace = find_workspace(session, reference)
    if workspace is None:
        raise CommandError(f"workspace {reference!r} was not found; give a workspace id or slug")
    return workspace


def _accessible_workspaces(session: Session, user_id: str) -> list[Workspace]:
    """Return the workspaces where the user has a role, directly or through the organisation."""
    organisations = select(Membership.organisation_id).where(
        Membership.user_id == user_id,
        Membership.workspace_id.is_(None),
        Membership.role.in_(ORGANISATION_WIDE_ROLES),
    )
    direct = select(Membership.workspace_id).where(Membership.user_id == user_id, Membership.workspace_id.is_not(None))
    return list(
        session.scalars(
            select(Workspace)
            .where(or_(Workspace.organisation_id.in_(organisations), Workspace.id.in_(direct)))
            .order_by(Workspace.created_at, Workspace.id)
        )
    )


def _timestamp(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


# ---- users and memberships ----


def run_users_add(args: argparse.Namespace, settings: Settings) -> int:
    email = args.email.strip().lower()
    if "@" not in email:
        raise CommandError(f"{args.email!r} is not an email address")
    with session_scope(settings.database_url) as session:
        existed = session.scalar(select(User.id).where(User.email == email)) is not None
        user = get_or_create_user(session, email, args.name)
        if args.name:
            user.name = args.name
        print(f"User {user.email} ({user.id}) {'updated' if existed else 'created'}.")
    return 0


def run_members_add(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        user = _user_by_email(session, args.email)
        if args.workspace:
            workspace = _workspace(session, args.workspace)
            organisation_id, workspace_id, scope = workspace.organisation_id, workspace.id, f"workspace {workspace.slug}"
        else:
            organisation = session.get(Organisation, args.organisation)
            if organisation is None:
                raise CommandError(f"organisation {args.organisation!r} was not found; give an organisation id")
            organisation_id, workspace_id, scope = organisation.id, None, f"organisation {organisation.slug}"
        membership = set_membership(session, user.id, organisation_id, args.role, workspace_id)
        record_audit(
            session,
            OperatorActor(organisation_id, workspace_id),
            MEMBERSHIP_SET,
            target_type="membership",
            target_id=membership.id,
            details={"userId": user.id, "role": args.role},
        )
        print(f"{user.email} is now {args.role} in {scope}.")
    return 0


# ---- API keys ----


def run_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        user = _user_by_email(session, args.email)
        workspace = _default_workspace(session, user, args.workspace)
        record, key = create_api_key(session, user.id, workspace.id if workspace else None, name=args.name)
        record_audit(
            session,
            OperatorActor(workspace.organisation_id if workspace else None, workspace.id if workspace else None),
            API_KEY_CREATE,
            target_type="api_key",
            target_id=record.id,
            details={"userId": user.id, "prefix": record.prefix, "name": args.name},
        )
        workspace_text = f"default workspace {workspace.slug}" if workspace else "no default workspace"
        print(f"API key {record.id} ({record.prefix}...) created for {user.email}, {workspace_text}.")
    if workspace is None:
        print("Requests with this key must send the X-Opbox-Workspace header.")
    print("The key is shown once; store it now:")
    print(key)
    return 0


def _default_workspace(session: Session, user: User, reference: str | None) -> Workspace | None:
    """Return the named workspace after checking the user's role there, else the user's only workspace."""
    if reference:
        workspace = _workspace(session, reference)
        if workspace_role(session, user.id, workspace) is None:
            raise CommandError(
                f"{user.email} has no role in workspace {workspace.slug}; add one with: "
                f"opbox members add --email {user.email} --role VIEWER --workspace {workspace.slug}"
            )
        return workspace
    workspaces = _accessible_workspaces(session, user.id)
    if not workspaces:
        raise CommandError(f"{user.email} is not a member of any workspace; add a membership with: opbox members add")
    return workspaces[0] if len(workspaces) == 1 else None


def run_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        # Listings show the prefix followed by "...", which may be pasted along with it.
        matches = find_api_keys_by_reference(session, args.key.strip().rstrip("."))
        if not matches:
            raise CommandError(f"no API key has the id or prefix {args.key!r}; list keys with: opbox keys list")
        if len(matches) > 1:
            ids = ", ".join(record.id for record in matches)
            raise CommandError(f"prefix {args.key!r} matches {len(matches)} keys ({ids}); give the key id instead")
        record = matches[0]
        already = record.revoked_at is not None
        revoke_api_key(session, record)
        workspace = session.get(Workspace, record.default_workspace_id) if record.default_workspace_id else None
        if not already:
            record_audit(
                session,
                OperatorActor(workspace.organisation_id if workspace else None, record.default_workspace_id),
                API_KEY_REVOKE,
                target_type="api_key",
                target_id=record.id,
                details={"userId": record.user_id, "prefix": record.prefix},
            )
        print(f"API key {record.id} ({record.prefix}...) {'was already' if already else 'is now'} revoked.")
    return 0


def run_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        query = (
            select(ApiKey, User.email, Workspace.slug)
            .join(User, User.id == ApiKey.user_id)
            .outerjoin(Workspace, Workspace.id == ApiKey.default_workspace_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        if args.email:
            query = query.where(User.email == args.email.strip().lower())
        rows = session.execute(query).all()
        print("ID\tPREFIX\tUSER\tNAME\tDEFAULT WORKSPACE\tCREATED\tLAST USED\tSTATUS")
        for record, email, slug in rows:
            status = f"revoked {_timestamp(record.revoked_at)}" if record.revoked_at else "active"
            print(
                f"{record.id}\t{record.prefix}...\t{email}\t{record.name or '-'}\t{slug or '-'}\t"
                f"{_timestamp(record.created_at)}\t{_timestamp(record.last_used_at)}\t{status}"
            )
    return 0


# ---- audit log and secrets ----


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise CommandError(f"--limit must be at least 1, not {args.limit}")
    with session_scope(settings.database_url) as session:
        workspace_id = _workspace(session, args.workspace).id if args.workspace else None
        entries = list_audit_entries(session, workspace_id=workspace_id, limit=args.limit)
        user_ids = {entry.actor_user_id for entry in entries if entry.actor_user_id}
        emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
        print("TIME\tACTION\tTARGET\tUSER\tKEY\tADDRESS\tDETAILS")
        for entry in entries:
            user = emails.get(entry.actor_user_id, entry.actor_user_id) if entry.actor_user_id else "operator"
            print(
                f"{_timestamp(entry.created_at)}\t{entry.action}\t{entry.target_type}:{entry.target_id or '-'}\t"
                f"{user}\t{entry.actor_api_key_id or '-'}\t{entry.source_ip or '-'}\t"
                f"{json.dumps(entry.details, sort_keys=True)}"
            )
    return 0


def run_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.secret_key:
        raise CommandError(
            "OPBOX_SECRET_KEY is not set; set it to the new key and put the old key in "
            "OPBOX_PREVIOUS_SECRET_KEYS (see docs/security.md)"
        )
    vault = load_vault(settings)
    if args.dry_run:
        counts = count_by_key(settings.database_url)
        for key_id, count in sorted(counts.items()):
            marker = " (new key)" if key_id == vault.primary_key_id else ""
            print(f"key id {key_id}{marker}: {count} secrets")
        return 0
    if not os.environ.get("OPBOX_PREVIOUS_SECRET_KEYS", "").strip():
        print("warning: OPBOX_PREVIOUS_SECRET_KEYS is empty, so secrets under an old key cannot be opened", file=sys.stderr)
    report = rotate_secrets(settings.database_url, vault)
    with session_scope(settings.database_url) as session:
        record_audit(
            session,
            OperatorActor(),
            SECRET_KEY_ROTATE,
            target_type="vault",
            target_id=report.primary_key_id,
            details={"reencrypted": report.reencrypted, "alreadyCurrent": report.already_current, "failed": len(report.failed)},
        )
    print(
        f"Re-encrypted {report.reencrypted} secrets under key id {report.primary_key_id}; "
        f"{report.already_current} were already under it."
    )
    for connection_id, column, reason in report.failed:
        print(f"failed: connection {connection_id} {column}: {reason}", file=sys.stderr)
    if not report.complete:
        print("Keep the old key in OPBOX_PREVIOUS_SECRET_KEYS until these are fixed.", file=sys.stderr)
        return 1
    print("Every secret is under the new key. Remove the old key from OPBOX_PREVIOUS_SECRET_KEYS and restart.")
    return 0


# ---- parser ----


def add_admin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``users``, ``members``, ``keys``, ``audit`` and ``secrets`` on the ``opbox`` parser."""
    users = commands.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    users_add = users.add_parser("add", help="add a user, or rename an existing one")
    users_add.add_argument("--email", required=True, help="the user's email address (stored in lower case)")
    users_add.add_argument("--name", default="", help="display name")
    users_add.set_defaults(handler=_reporting_errors(run_users_add))

    members = commands.add_parser("members", help="manage roles").add_subparsers(dest="action", required=True)
    members_add = members.add_parser("add", help="give a user a role in a workspace or a whole organisation")
    members_add.add_argument("--email", required=True, help="email address of an existing user")
    members_add.add_argument("--role", required=True, choices=ROLES, help="role to give, replacing any role at the same level")
    scope = members_add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--workspace", help="workspace id or slug")
    scope.add_argument("--organisation", help="organisation id (OWNER and ADMIN then apply to every workspace)")
    members_add.set_defaults(handler=_reporting_errors(run_members_add))

    _add_key_commands(commands)

    audit = commands.add_parser("audit", help="print the audit log, newest first")
    audit.add_argument("--workspace", help="only entries of this workspace (id or slug)")
    audit.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT, help="number of entries (default: %(default)s)")
    audit.set_defaults(handler=_reporting_errors(run_audit))

    secrets = commands.add_parser("secrets", help="manage encryption of stored secrets").add_subparsers(dest="action", required=True)
    rotate = secrets.add_parser(
        "rotate-key",
        help="re-encrypt every credential and webhook token under OPBOX_SECRET_KEY, opening old ones with OPBOX_PREVIOUS_SECRET_KEYS",
    )
    rotate.add_argument("--dry-run", action="store_true", help="only count the secrets under each key id")
    rotate.set_defaults(handler=_reporting_errors(run_rotate_key))


def _add_key_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create an API key and print it once")
    create.add_argument("--email", required=True, help="email address of the key's user")
    create.add_argument("--workspace", help="default workspace id or slug (default: the user's only workspace)")
    create.add_argument("--name", default="", help="label shown in key listings")
    create.set_defaults(handler=_reporting_errors(run_keys_create))

    revoke = keys.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("key", help="key id, or the start of its visible prefix (sk_...)")
    revoke.set_defaults(handler=_reporting_errors(run_keys_revoke))

    listing = keys.add_parser("list", help="list API keys with their prefix, never the key")
    listing.add_argument("--email", help="only keys of this user")
    listing.set_defaults(handler=_reporting_errors(run_keys_list))
