"""Credential test, health check and discovery against the local HubSpot emulator."""

from __future__ import annotations

import logging
import re
from typing import Any
from unittest.mock import ANY

import pytest
from httpx import Response
from litestar.testing import TestClient

from connectors.emulators.hubspot.server import HubSpotEmulator

from .conftest import EMULATOR_TOKEN, WRONG_TOKEN, Identities, bearer, create_connection

CONNECTIONS = "/api/pipelines/connections"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def post_credentials_test(client: TestClient[Any], key: str, base_url: str, token: str) -> Response:
    body = {"type": "CRM_PLATFORM", "credentials": {"apiKey": token}, "config": {"baseUrl": base_url}}
    return client.post(f"{CONNECTIONS}/test", json=body, headers=bearer(key))


def use_token(client: TestClient[Any], owner_key: str, connection_id: str, token: str) -> None:
    response = client.put(
        f"{CONNECTIONS}/{connection_id}", json={"credentials": {"apiKey": token}}, headers=bearer(owner_key)
    )
    assert response.status_code == 200, response.text


def connection_status(client: TestClient[Any], key: str, connection_id: str) -> str:
    return str(client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(key)).json()["status"])


def test_credentials_accepted(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    response = post_credentials_test(client, identities.member_key, emulator.base_url, EMULATOR_TOKEN)

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": "Connection successful"}
    assert client.get(CONNECTIONS, headers=bearer(identities.member_key)).json() == {"connections": []}


def test_wrong_token_rejected_without_leaking(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    response = post_credentials_test(client, identities.member_key, emulator.base_url, WRONG_TOKEN)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "CREDENTIALS_REJECTED"
    assert "401" in body["error"]
    assert WRONG_TOKEN not in response.text
    assert WRONG_TOKEN not in caplog.text
    assert EMULATOR_TOKEN not in caplog.text


def test_credentials_test_validates_shape(client: TestClient[Any], identities: Identities) -> None:
    response = client.post(
        f"{CONNECTIONS}/test",
        json={"type": "CRM_PLATFORM", "credentials": {"token": "x"}},
        headers=bearer(identities.member_key),
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"field": "credentials.token"}


def test_credentials_test_needs_member(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    response = post_credentials_test(client, identities.viewer_key, emulator.base_url, EMULATOR_TOKEN)

    assert response.status_code == 403


def test_check_healthy_marks_connected(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.post(f"{CONNECTIONS}/{connection_id}/check", headers=bearer(identities.member_key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"healthy": True, "message": ANY, "latencyMs": ANY, "checkedAt": ANY}
    assert isinstance(body["latencyMs"], (int, float))
    assert TIMESTAMP.match(body["checkedAt"])
    assert connection_status(client, identities.owner_key, connection_id) == "CONNECTED"


def test_check_rejected_token_marks_error(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    use_token(client, identities.owner_key, connection_id, WRONG_TOKEN)

    response = client.post(f"{CONNECTIONS}/{connection_id}/check", headers=bearer(identities.member_key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["healthy"] is False
    assert "credentials rejected" in body["message"]
    assert connection_status(client, identities.owner_key, connection_id) == "ERROR"


def test_discover_lists_streams_and_fields(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.post(f"{CONNECTIONS}/{connection_id}/discover", headers=bearer(identities.member_key))

    assert response.status_code == 200, response.text
    streams = {item["name"]: item for item in response.json()["streams"]}
    assert list(streams) == ["contacts", "companies", "deals"]
    contacts = streams["contacts"]
    assert contacts["primaryKey"] == ["id"]
    assert contacts["cursorField"] == "lastmodifieddate"
    assert contacts["supportedSyncModes"] == ["full_refresh", "incremental"]
    assert {"name": "id", "type": "string"} in contacts["fields"]
    assert {"name": "email", "type": "string"} in contacts["fields"]
    assert {"name": "amount", "type": "decimal"} in streams["deals"]["fields"]


def test_discover_with_rejected_token_fails(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    use_token(client, identities.owner_key, connection_id, WRONG_TOKEN)

    response = client.post(f"{CONNECTIONS}/{connection_id}/discover", headers=bearer(identities.member_key))

    assert response.status_code == 400
    assert response.json()["code"] == "CREDENTIALS_REJECTED"


def test_provider_failure_is_bad_gateway(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    emulator.add_fault("/crm/v3/properties/", status=400, body={"message": "unsupported property request"})

    response = post_credentials_test(client, identities.member_key, emulator.base_url, EMULATOR_TOKEN)

    assert response.status_code == 502, response.text
    body = response.json()
    assert body["code"] == "PROVIDER_ERROR"
    assert "unsupported property request" in body["error"]
