"""Reveal of the webhook URL: response shape, no caching, audit entry and the legacy token upgrade."""

from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from api_gateway.app import create_app
from api_gateway.controllers.webhook_url import upgrade_legacy_token
from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import AuditEntry, Connection
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret
from resources.settings import Settings
from resources.vault import load_vault
from tests.gateway.conftest import ClientFactory, Identities, RecordingDagster, bearer, create_connection

CONNECTIONS = "/api/pipelines/connections"
PUBLIC_URL = "https://app.example.com"
CURRENT_TOKEN = re.compile(r"^whk_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def public_client(make_client: ClientFactory, settings: Settings) -> TestClient[Any]:
    return make_client(dataclasses.replace(settings, public_url=PUBLIC_URL), RecordingDagster())


def reveal(client: TestClient[Any], key: str, connection_id: str) -> Any:
    return client.post(f"{CONNECTIONS}/{connection_id}/webhook-url", headers=bearer(key))


def stored_token(settings: Settings, connection_id: str) -> tuple[str, str]:
    """Return the stored token hash and the decrypted token."""
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        return connection.webhook_token_hash, load_vault(settings).decrypt(connection.webhook_token_encrypted)


def set_legacy_token(settings: Settings, connection_id: str) -> str:
    legacy = secrets.token_hex(16)
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        connection.webhook_token_hash = hash_secret(legacy)
        connection.webhook_token_encrypted = load_vault(settings).encrypt(legacy)
    return legacy


def webhook_route_served(settings: Settings) -> bool:
    return any(route.path.startswith("/api/pipelines/webhook/") for route in create_app(settings).routes)


def test_reveal_matches_contract(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.admin_key, emulator.base_url)
    token_hash, token = stored_token(settings, connection_id)

    response = reveal(public_client, identities.admin_key, connection_id)

    assert response.status_code == 200, response.text
    url = f"{PUBLIC_URL}/api/pipelines/webhook/{token}"
    assert response.json() == {
        "webhookUrl": url,
        "tokenPrefix": token[:4] + "...",
        "curlExample": f"curl -X POST {url}",
    }
    assert response.headers["cache-control"] == "no-store"
    assert CURRENT_TOKEN.match(token)
    assert token_hash == hash_secret(token)


def test_reveal_is_stable(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)

    first = reveal(public_client, identities.owner_key, connection_id).json()
    second = reveal(public_client, identities.owner_key, connection_id).json()

    assert first == second


def test_reveal_is_audited(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)

    reveal(public_client, identities.admin_key, connection_id)

    with session_scope(settings.database_url) as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "VIEW_SECRET")).all()
        admin_key_id = session.scalar(select(AuditEntry.actor_api_key_id).where(AuditEntry.action == "VIEW_SECRET"))
        assert len(entries) == 1
        entry = entries[0]
        assert entry.target_type == "connection"
        assert entry.target_id == connection_id
        assert entry.workspace_id == identities.workspace_id
        assert entry.organisation_id == identities.organisation_id
        assert entry.actor_user_id is not None
        assert entry.actor_api_key_id == admin_key_id
        assert entry.source_ip == "testclient"
        assert entry.details == {"secret": "webhookUrl", "tokenUpgraded": False}
        _, token = stored_token(settings, connection_id)
        assert token not in repr(entry.details)


def test_refused_reveal_is_not_audited(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)

    member = reveal(public_client, identities.member_key, connection_id)
    foreign = reveal(public_client, identities.other_owner_key, connection_id)

    assert member.status_code == 403
    assert foreign.status_code == 404
    assert "webhook" not in foreign.text.lower()
    with session_scope(settings.database_url) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "VIEW_SECRET")).all() == []


def test_reveal_rejects_body_fields(
    public_client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)

    response = public_client.post(
        f"{CONNECTIONS}/{connection_id}/webhook-url", json={"rotate": True}, headers=bearer(identities.owner_key)
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"field": "rotate"}


def test_legacy_token_is_upgraded(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)
    legacy = set_legacy_token(settings, connection_id)

    response = reveal(public_client, identities.owner_key, connection_id)

    assert response.status_code == 200, response.text
    token_hash, token = stored_token(settings, connection_id)
    assert CURRENT_TOKEN.match(token)
    assert token_hash == hash_secret(token)
    assert response.json()["webhookUrl"] == f"{PUBLIC_URL}/api/pipelines/webhook/{token}"
    assert legacy not in response.text
    with session_scope(settings.database_url) as session:
        assert session.scalar(select(Connection.id).where(Connection.webhook_token_hash == hash_secret(legacy))) is None
        details = session.scalar(select(AuditEntry.details).where(AuditEntry.action == "VIEW_SECRET"))
    assert details == {"secret": "webhookUrl", "tokenUpgraded": True}


def test_legacy_token_found_until_revealed(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)
    legacy = set_legacy_token(settings, connection_id)

    with session_scope(settings.database_url) as session:
        found = session.scalar(select(Connection.id).where(Connection.webhook_token_hash == hash_secret(legacy)))

    assert found == connection_id


def test_legacy_webhook_delivery_until_revealed(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    if not webhook_route_served(settings):
        pytest.skip("the webhook endpoint is not served by this build yet")
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)
    legacy = set_legacy_token(settings, connection_id)

    before = public_client.post(f"/api/pipelines/webhook/{legacy}", json={})
    new_url = reveal(public_client, identities.owner_key, connection_id).json()["webhookUrl"]
    after_legacy = public_client.post(f"/api/pipelines/webhook/{legacy}", json={})
    after_new = public_client.post(new_url.removeprefix(PUBLIC_URL), json={})

    assert before.status_code == 202, before.text
    assert after_legacy.status_code == 404, after_legacy.text
    assert after_new.status_code in (202, 409), after_new.text


def test_concurrent_upgrade_keeps_one_token(
    public_client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    """Two reveals that both saw the legacy token: the second returns the first one's new token."""
    connection_id = create_connection(public_client, identities.owner_key, emulator.base_url)
    legacy = set_legacy_token(settings, connection_id)
    vault = load_vault(settings)

    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        first = upgrade_legacy_token(session, vault, connection, legacy)
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        second = upgrade_legacy_token(session, vault, connection, legacy)

    assert first == second
    assert stored_token(settings, connection_id)[1] == first
