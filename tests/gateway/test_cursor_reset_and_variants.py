"""Cursor resets (PATCH a connection) and variant connections, as the contract shows them."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from litestar.testing import TestClient

from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.settings import Settings

from .conftest import EMULATOR_TOKEN, Identities, bearer, create_connection

CONNECTIONS = "/api/pipelines/connections"


def patch(client: TestClient[Any], key: str, connection_id: str, body: Any) -> Any:
    return client.patch(f"{CONNECTIONS}/{connection_id}", json=body, headers=bearer(key))


def test_set_cursor_for_stream(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = patch(client, identities.admin_key, connection_id, {"stream": "contacts", "cursor": "2026-01-01T00:00:00.000Z"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "syncState": {"version": 1, "streams": {"contacts": {"cursor": "2026-01-01T00:00:00.000Z"}}},
        "message": 'Sync cursor set to 2026-01-01T00:00:00.000Z for stream "contacts"',
    }


def test_cursor_with_offset_is_stored_in_utc(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = patch(client, identities.admin_key, connection_id, {"stream": "deals", "cursor": "2026-01-01T02:00:00+02:00"})

    assert response.json()["syncState"]["streams"] == {"deals": {"cursor": "2026-01-01T00:00:00.000Z"}}


def test_clear_cursors_and_version_grows(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)
    patch(client, identities.admin_key, connection_id, {"stream": "contacts", "cursor": "2026-01-01T00:00:00.000Z"})

    response = patch(client, identities.owner_key, connection_id, {"stream": "contacts", "cursor": None})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "syncState": {"version": 2, "streams": {}},
        "message": "Sync cursor cleared - next sync will be a full resync",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"cursor": None}, "stream", id="omitted-stream-defaults-to-transcripts"),
        pytest.param({"stream": "tickets", "cursor": "2026-01-01T00:00:00Z"}, "stream", id="unknown-stream"),
        pytest.param({"stream": "contacts", "cursor": "yesterday"}, "cursor", id="invalid-date"),
        pytest.param({"stream": "contacts", "cursor": "2026-02-30T00:00:00Z"}, "cursor", id="impossible-date"),
        pytest.param({"stream": "contacts", "cursor": 1767225600}, "cursor", id="number"),
        pytest.param({"stream": "contacts"}, "cursor", id="missing-cursor"),
    ],
)
def test_invalid_reset_lists_valid_streams(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, settings: Settings, body: dict[str, Any], field: str
) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = patch(client, identities.admin_key, connection_id, body)

    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == field
    assert response.json()["details"]["validStreams"] == ["contacts", "companies", "deals"]
    with session_scope(settings.database_url) as session:
        assert session.get(Connection, connection_id).sync_state == {"version": 0, "streams": {}}


def test_reset_needs_admin(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = patch(client, identities.member_key, connection_id, {"stream": "contacts", "cursor": None})

    assert response.status_code == 403


def test_reset_of_other_workspace_connection_is_404(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = patch(client, identities.other_owner_key, connection_id, {"stream": "contacts", "cursor": None})

    assert response.status_code == 404


def test_variant_created_with_contract_fields(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, settings: Settings
) -> None:
    source_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = client.post(
        f"{CONNECTIONS}/{source_id}/variants",
        json={"name": "CRM Platform - Europe Region", "variantLabel": "EU"},
        headers=bearer(identities.admin_key),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": ANY,
        "name": "CRM Platform - Europe Region",
        "type": "CRM_PLATFORM",
        "variantGroupId": source_id,
        "variantLabel": "EU",
        "status": "DISCONNECTED",
        "webhookToken": ANY,
        "createOwnTables": False,
    }
    assert body["webhookToken"].endswith("...")
    with session_scope(settings.database_url) as session:
        source = session.get(Connection, source_id)
        variant = session.get(Connection, body["id"])
        assert source.variant_group_id == source_id
        assert variant.credentials_encrypted == source.credentials_encrypted
        assert variant.webhook_token_hash != source.webhook_token_hash
        assert variant.table_prefix == source.table_prefix == "production_crm"
    assert EMULATOR_TOKEN not in response.text


def test_variant_labels_are_sequential(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    source_id = create_connection(client, identities.admin_key, emulator.base_url)

    labels = [
        client.post(f"{CONNECTIONS}/{source_id}/variants", json={}, headers=bearer(identities.admin_key)).json()["variantLabel"]
        for _ in range(3)
    ]
    names = [item["name"] for item in client.get(CONNECTIONS, headers=bearer(identities.admin_key)).json()["connections"]]

    assert labels == ["2", "3", "4"]
    assert "Production CRM (3)" in names


def test_variant_may_route_to_another_base_url(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, settings: Settings
) -> None:
    source_id = create_connection(client, identities.admin_key, emulator.base_url)
    other_region = emulator.base_url.replace("127.0.0.1", "localhost")

    response = client.post(
        f"{CONNECTIONS}/{source_id}/variants",
        json={"variantLabel": "EU", "config": {"baseUrl": other_region, "createOwnTables": True}},
        headers=bearer(identities.admin_key),
    )

    assert response.status_code == 201, response.text
    assert response.json()["createOwnTables"] is True
    with session_scope(settings.database_url) as session:
        assert session.get(Connection, response.json()["id"]).config["baseUrl"] == other_region


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"variantLabel": ""}, id="empty-label"),
        pytest.param({"variantLabel": 7}, id="number-label"),
        pytest.param({"name": ""}, id="empty-name"),
        pytest.param({"colour": "red"}, id="unknown-field"),
        pytest.param({"config": {"createOwnTables": "yes"}}, id="bad-config"),
    ],
)
def test_invalid_variant_creates_nothing(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, body: dict[str, Any]
) -> None:
    source_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = client.post(f"{CONNECTIONS}/{source_id}/variants", json=body, headers=bearer(identities.admin_key))

    assert response.status_code == 400, response.text
    listed = client.get(CONNECTIONS, headers=bearer(identities.admin_key)).json()["connections"]
    assert len(listed) == 1


def test_reset_and_variant_are_audited(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, settings: Settings
) -> None:
    from sqlalchemy import select

    from resources.app_db.models import AuditEntry

    source_id = create_connection(client, identities.admin_key, emulator.base_url)
    patch(client, identities.admin_key, source_id, {"stream": "deals", "cursor": None})
    variant = client.post(f"{CONNECTIONS}/{source_id}/variants", json={"variantLabel": "EU"}, headers=bearer(identities.admin_key))

    with session_scope(settings.database_url) as session:
        entries = {entry.action: entry for entry in session.scalars(select(AuditEntry))}
    assert entries["CURSOR_RESET"].target_id == source_id
    assert entries["CURSOR_RESET"].details["cleared"] is True
    assert entries["VARIANT_CREATE"].target_id == variant.json()["id"]
    assert entries["VARIANT_CREATE"].details["sourceId"] == source_id


def test_new_credentials_reach_sharing_variants(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, settings: Settings
) -> None:
    source_id = create_connection(client, identities.admin_key, emulator.base_url)
    sharing = client.post(f"{CONNECTIONS}/{source_id}/variants", json={"variantLabel": "EU"}, headers=bearer(identities.admin_key)).json()["id"]
    separate = client.post(f"{CONNECTIONS}/{source_id}/variants", json={"variantLabel": "US"}, headers=bearer(identities.admin_key)).json()["id"]
    client.put(f"{CONNECTIONS}/{separate}", json={"credentials": {"apiKey": "pat-separate-key"}}, headers=bearer(identities.admin_key))

    response = client.put(f"{CONNECTIONS}/{source_id}", json={"credentials": {"apiKey": "pat-rotated-key"}}, headers=bearer(identities.admin_key))

    assert response.status_code == 200, response.text
    with session_scope(settings.database_url) as session:
        source = session.get(Connection, source_id)
        assert session.get(Connection, sharing).credentials_encrypted == source.credentials_encrypted
        assert session.get(Connection, separate).credentials_encrypted != source.credentials_encrypted


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param("/test", {"type": "CRM_PLATFORM", "credentials": {"apiKey": "x"}, "colour": "red"}, "colour", id="test"),
        pytest.param("/{id}/runs", {"streams": ["contacts"], "priority": "high"}, "priority", id="trigger"),
    ],
)
def test_unknown_body_fields_are_rejected(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, path: str, body: dict[str, Any], field: str
) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)

    response = client.post(CONNECTIONS + path.format(id=connection_id), json=body, headers=bearer(identities.admin_key))

    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == field
