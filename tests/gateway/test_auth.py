"""API-key authentication, workspace selection and role checks."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import ApiKey, utc_now
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret
from resources.services.identity import add_membership, create_workspace, get_or_create_user
from resources.settings import Settings

from .conftest import Identities, bearer, connection_body, create_connection

CONNECTIONS = "/api/pipelines/connections"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer sk_not-a-real-key"}, id="unknown-key"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer"}, id="bearer-without-key"),
        pytest.param({"Authorization": "Bearer pk_wrong-prefix"}, id="wrong-prefix"),
    ],
)
def test_missing_or_wrong_key_is_unauthorised(
    client: TestClient[Any], identities: Identities, headers: dict[str, str]
) -> None:
    response = client.get(CONNECTIONS, headers=headers)

    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "UNAUTHORISED"
    assert body["details"] == {}
    assert response.headers["www-authenticate"] == "Bearer"
    assert "sk_not-a-real-key" not in response.text


def test_revoked_key_is_unauthorised(client: TestClient[Any], settings: Settings, identities: Identities) -> None:
    with session_scope(settings.database_url) as session:
        record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(identities.viewer_key)))
        assert record is not None
        record.revoked_at = utc_now()

    response = client.get(CONNECTIONS, headers=bearer(identities.viewer_key))

    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORISED"


def test_every_pipelines_route_needs_key(client: TestClient[Any]) -> None:
    routes = [
        ("GET", "/api/pipelines/connector-types"),
        ("GET", CONNECTIONS),
        ("POST", CONNECTIONS),
        ("POST", f"{CONNECTIONS}/test"),
        ("GET", f"{CONNECTIONS}/c1"),
        ("PUT", f"{CONNECTIONS}/c1"),
        ("DELETE", f"{CONNECTIONS}/c1"),
        ("POST", f"{CONNECTIONS}/c1/check"),
        ("POST", f"{CONNECTIONS}/c1/discover"),
        ("GET", f"{CONNECTIONS}/c1/runs"),
        ("POST", f"{CONNECTIONS}/c1/runs"),
        ("GET", f"{CONNECTIONS}/c1/runs/r1"),
        ("POST", f"{CONNECTIONS}/c1/runs/r1"),
        ("GET", f"{CONNECTIONS}/c1/tables/contacts/rows"),
    ]

    for method, path in routes:
        response = client.request(method, path)
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"


def test_request_records_key_use(client: TestClient[Any], settings: Settings, identities: Identities) -> None:
    client.get(CONNECTIONS, headers=bearer(identities.member_key))

    with session_scope(settings.database_url) as session:
        record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(identities.member_key)))
        assert record is not None
        assert record.last_used_at is not None


@pytest.mark.parametrize(
    ("role_key", "allowed"),
    [("viewer_key", False), ("member_key", False), ("admin_key", True), ("owner_key", True)],
)
def test_create_needs_admin_role(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, role_key: str, allowed: bool
) -> None:
    response = client.post(
        CONNECTIONS, json=connection_body(emulator.base_url), headers=bearer(getattr(identities, role_key))
    )

    if allowed:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "FORBIDDEN"
        assert body["details"]["requiredRole"] == "ADMIN"
        assert "ADMIN" in body["error"]


def test_viewer_reads_but_cannot_trigger(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    viewer = bearer(identities.viewer_key)

    assert client.get(CONNECTIONS, headers=viewer).status_code == 200
    assert client.get(f"{CONNECTIONS}/{connection_id}", headers=viewer).status_code == 200
    assert client.get(f"{CONNECTIONS}/{connection_id}/runs", headers=viewer).status_code == 200
    for suffix in ("/runs", "/check", "/discover"):
        response = client.post(f"{CONNECTIONS}/{connection_id}{suffix}", headers=viewer)
        assert response.status_code == 403, suffix
        assert response.json()["details"]["requiredRole"] == "MEMBER"


def test_workspace_header_selects_by_slug_and_id(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    for reference in (identities.workspace_slug, identities.workspace_id):
        response = client.get(CONNECTIONS, headers=bearer(identities.owner_key, reference))
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["connections"]] == [connection_id]


@pytest.mark.parametrize("reference", ["no-such-workspace", "other-by-slug", "other-by-id"])
def test_foreign_or_unknown_workspace_is_not_found(
    client: TestClient[Any], identities: Identities, reference: str
) -> None:
    workspace = {
        "other-by-slug": identities.other_workspace_slug,
        "other-by-id": identities.other_workspace_id,
    }.get(reference, reference)

    response = client.get(CONNECTIONS, headers=bearer(identities.owner_key, workspace))

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "WORKSPACE_NOT_FOUND"
    assert body["details"] == {"workspace": workspace}


def test_organisation_admin_reaches_every_workspace(
    client: TestClient[Any], settings: Settings, identities: Identities
) -> None:
    with session_scope(settings.database_url) as session:
        second = create_workspace(session, identities.organisation_id, "Second")
        second_slug = second.slug

    admin = client.get(CONNECTIONS, headers=bearer(identities.admin_key, second_slug))
    member = client.get(CONNECTIONS, headers=bearer(identities.member_key, second_slug))

    assert admin.status_code == 200
    assert member.status_code == 404
    assert member.json()["code"] == "WORKSPACE_NOT_FOUND"


def test_organisation_member_row_grants_no_workspace(
    client: TestClient[Any], settings: Settings, identities: Identities
) -> None:
    with session_scope(settings.database_url) as session:
        user = get_or_create_user(session, "member@acme.example")
        add_membership(session, user.id, identities.organisation_id, "MEMBER")
        second_slug = create_workspace(session, identities.organisation_id, "Second").slug

    response = client.get(CONNECTIONS, headers=bearer(identities.member_key, second_slug))

    assert response.status_code == 404


def test_highest_role_applies(
    client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    with session_scope(settings.database_url) as session:
        user = get_or_create_user(session, "member@acme.example")
        add_membership(session, user.id, identities.organisation_id, "ADMIN")

    response = client.post(CONNECTIONS, json=connection_body(emulator.base_url), headers=bearer(identities.member_key))

    assert response.status_code == 201, response.text


def test_health_needs_no_key(client: TestClient[Any]) -> None:
    response = client.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
