"""The administration commands as an operator runs them: users, members, keys and the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from opbox_cli.main import main
from resources.app_db.models import ApiKey, Membership, User
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret
from resources.services.identity import find_api_key
from resources.settings import Settings
from tests.gateway.conftest import Identities, bearer

KEY_LINE = re.compile(r"^sk_[A-Za-z0-9_-]{43}$", re.MULTILINE)
CONNECTIONS = "/api/pipelines/connections"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_user_member_key_flow(
    client: TestClient[Any], settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "users", "add", "--email", "Dana@Acme.example", "--name", "Dana")[0] == 0
    assert run(capsys, "members", "add", "--email", "dana@acme.example", "--role", "MEMBER", "--workspace", identities.workspace_slug)[0] == 0

    status, output, _ = run(capsys, "keys", "create", "--email", "dana@acme.example", "--name", "laptop")

    assert status == 0
    keys = KEY_LINE.findall(output)
    assert len(keys) == 1
    assert client.get(CONNECTIONS, headers=bearer(keys[0])).status_code == 200
    assert client.post(f"{CONNECTIONS}/test", json={}, headers=bearer(keys[0])).status_code == 400
    assert client.post(CONNECTIONS, json={}, headers=bearer(keys[0])).status_code == 403
    with session_scope(settings.database_url) as session:
        user = session.scalar(select(User).where(User.email == "dana@acme.example"))
        assert user is not None
        assert user.name == "Dana"
        record = find_api_key(session, keys[0])
        assert record is not None
        assert record.name == "laptop"
        assert record.default_workspace_id == identities.workspace_id
        assert record.key_hash == hash_secret(keys[0])


def test_key_is_printed_once(
    settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str]
) -> None:
    _, created, _ = run(capsys, "keys", "create", "--email", "owner@acme.example")
    [key] = KEY_LINE.findall(created)

    _, listing, _ = run(capsys, "keys", "list")
    _, audit, _ = run(capsys, "audit")

    assert key not in listing
    assert key[:11] + "..." in listing
    assert key not in audit
    assert "API_KEY_CREATE" in audit


def test_revoke_by_prefix_and_id(
    client: TestClient[Any], settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str]
) -> None:
    _, created, _ = run(capsys, "keys", "create", "--email", "owner@acme.example")
    [key] = KEY_LINE.findall(created)
    with session_scope(settings.database_url) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_secret(key)))

    status, output, _ = run(capsys, "keys", "revoke", key[:11] + "...")
    again, output_again, _ = run(capsys, "keys", "revoke", str(key_id))

    assert status == 0
    assert "is now revoked" in output
    assert again == 0
    assert "was already revoked" in output_again
    assert client.get(CONNECTIONS, headers=bearer(key)).status_code == 401
    _, listing, _ = run(capsys, "keys", "list", "--email", "owner@acme.example")
    assert "revoked" in listing
    _, audit, _ = run(capsys, "audit", "--limit", "1")
    assert "API_KEY_REVOKE" in audit


def test_ambiguous_prefix_is_rejected(settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, error = run(capsys, "keys", "revoke", "sk_")

    assert status == 1
    assert "give the key id instead" in error


def test_organisation_role_is_replaced(
    settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "users", "add", "--email", "erin@acme.example")

    for role in ("ADMIN", "VIEWER"):
        assert run(capsys, "members", "add", "--email", "erin@acme.example", "--role", role, "--organisation", identities.organisation_id)[0] == 0

    with session_scope(settings.database_url) as session:
        user_id = session.scalar(select(User.id).where(User.email == "erin@acme.example"))
        roles = session.scalars(select(Membership.role).where(Membership.user_id == user_id)).all()
    assert roles == ["VIEWER"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("members", "add", "--email", "nobody@acme.example", "--role", "ADMIN", "--workspace", "main"), "opbox users add"),
        (("members", "add", "--email", "owner@acme.example", "--role", "ADMIN", "--workspace", "nowhere"), "was not found"),
        (("keys", "create", "--email", "viewer@acme.example", "--workspace", "globex_ops"), "has no role in workspace"),
        (("keys", "revoke", "sk_nomatch"), "no API key"),
        (("audit", "--limit", "0"), "--limit must be at least 1"),
        (("users", "add", "--email", "not-an-address"), "is not an email address"),
    ],
)
def test_errors_say_what_to_do(
    settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    status, _, error = run(capsys, *argv)

    assert status == 1
    assert message in error


def test_audit_filters_by_workspace(
    settings: Settings, identities: Identities, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "keys", "create", "--email", "owner@acme.example", "--workspace", identities.workspace_slug)
    run(capsys, "keys", "create", "--email", "owner@globex.example", "--workspace", identities.other_workspace_slug)

    _, main_audit, _ = run(capsys, "audit", "--workspace", identities.workspace_slug)
    _, all_audit, _ = run(capsys, "audit")

    assert main_audit.count("API_KEY_CREATE") == 1
    assert all_audit.count("API_KEY_CREATE") == 2
