"""Connection endpoints: create, list, get, update and delete, with every input check."""

from __future__ import annotations

import re
from typing import Any
from unittest.mock import ANY

import pytest
from litestar.testing import TestClient

from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import SyncRun
from resources.app_db.session import session_scope
from resources.settings import Settings, load_settings

from .conftest import (
    EMULATOR_TOKEN,
    ClientFactory,
    Identities,
    RecordingDagster,
    bearer,
    connection_body,
    create_connection,
)

CONNECTIONS = "/api/pipelines/connections"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FINGERPRINT = re.compile(r"^apiKey\.[0-9a-f]{4}\.\.\.\*{4}$")


def list_ids(client: TestClient[Any], key: str) -> list[str]:
    response = client.get(CONNECTIONS, headers=bearer(key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["connections"]]


def test_create_returns_whole_connection(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    body = connection_body(
        emulator.base_url,
        schedule={"enabled": True, "frequency": "daily"},
        notifyUserIds=[identities.member_user_id],
    )

    response = client.post(CONNECTIONS, json=body, headers=bearer(identities.owner_key))

    assert response.status_code == 201, response.text
    created = response.json()
    assert created == {
        "id": ANY,
        "name": "Production CRM",
        "type": "CRM_PLATFORM",
        "status": "DISCONNECTED",
        "enabled": True,
        "workspaceId": identities.workspace_id,
        "config": {"baseUrl": emulator.base_url},
        "schedule": {"enabled": True, "frequency": "daily"},
        "notifyUserIds": [identities.member_user_id],
        "syncState": {"version": 0, "streams": {}},
        "variantGroupId": None,
        "variantLabel": None,
        "credentials": {"fields": ["apiKey"], "fingerprint": ANY},
        "createdAt": ANY,
        "updatedAt": ANY,
        "lastSyncedAt": None,
        "nextRunAt": ANY,
    }
    assert re.match(r"^c[0-9a-z]{24}$", created["id"])
    assert FINGERPRINT.match(created["credentials"]["fingerprint"])
    assert TIMESTAMP.match(created["nextRunAt"])
    assert TIMESTAMP.match(created["createdAt"])
    assert TIMESTAMP.match(created["updatedAt"])
    assert "webhookToken" not in response.text
    assert list_ids(client, identities.owner_key) == [created["id"]]


def test_create_by_organisation_admin(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    response = client.post(CONNECTIONS, json=connection_body(emulator.base_url), headers=bearer(identities.admin_key))

    assert response.status_code == 201, response.text


def test_create_reloads_dagster_code_location(
    make_client: ClientFactory, identities: Identities, emulator: HubSpotEmulator
) -> None:
    dagster = RecordingDagster()
    client = make_client(dagster=dagster)

    create_connection(client, identities.owner_key, emulator.base_url)

    assert dagster.reloads == 1


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != key}


BASE = connection_body("http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("payload", "code", "field", "message_part"),
    [
        pytest.param(_without(BASE, "name"), "VALIDATION_ERROR", "name", "name is required", id="missing-name"),
        pytest.param({**BASE, "name": ""}, "VALIDATION_ERROR", "name", "name is required", id="empty-name"),
        pytest.param({**BASE, "name": "   "}, "VALIDATION_ERROR", "name", "name is required", id="blank-name"),
        pytest.param({**BASE, "name": "n" * 256}, "VALIDATION_ERROR", "name", "at most 255", id="long-name"),
        pytest.param({**BASE, "name": 7}, "VALIDATION_ERROR", "name", "non-empty string", id="numeric-name"),
        pytest.param(_without(BASE, "type"), "VALIDATION_ERROR", "type", "type is required", id="missing-type"),
        pytest.param({**BASE, "type": "FTP"}, "VALIDATION_ERROR", "type", "not a connector type", id="unknown-type"),
        pytest.param(
            {**BASE, "type": "ACCOUNTING"}, "VALIDATION_ERROR", "type", "not available", id="unavailable-type"
        ),
        pytest.param(
            _without(BASE, "credentials"), "VALIDATION_ERROR", "credentials", "required", id="missing-credentials"
        ),
        pytest.param(
            {**BASE, "credentials": "secret"}, "VALIDATION_ERROR", "credentials", "JSON object", id="credentials-string"
        ),
        pytest.param(
            {**BASE, "credentials": {}}, "VALIDATION_ERROR", "credentials.apiKey", "required", id="credentials-empty"
        ),
        pytest.param(
            {**BASE, "credentials": {"apiKey": 12345}},
            "VALIDATION_ERROR",
            "credentials.apiKey",
            "non-empty string",
            id="credentials-number",
        ),
        pytest.param(
            {**BASE, "credentials": {"apiKey": "x", "password": "y"}},
            "VALIDATION_ERROR",
            "credentials.password",
            "not a credential",
            id="credentials-extra-field",
        ),
        pytest.param({**BASE, "config": []}, "VALIDATION_ERROR", "config", "JSON object", id="config-array"),
        pytest.param(
            {**BASE, "config": {"baseUrl": "ftp://example.com"}},
            "VALIDATION_ERROR",
            "config.baseUrl",
            "not an https URL",
            id="config-ftp-url",
        ),
        pytest.param(
            {**BASE, "schedule": {"frequency": "yearly"}},
            "VALIDATION_ERROR",
            "schedule.frequency",
            "hourly, daily, weekly, monthly",
            id="schedule-frequency",
        ),
        pytest.param(
            {**BASE, "notifyUserIds": "everyone"}, "VALIDATION_ERROR", "notifyUserIds", "array", id="notify-string"
        ),
        pytest.param(
            {**BASE, "notifyUserIds": ["cnotamemberofthisorg00000"]},
            "VALIDATION_ERROR",
            "notifyUserIds",
            "not a member",
            id="notify-unknown-user",
        ),
        pytest.param([BASE], "VALIDATION_ERROR", "body", "JSON object", id="body-array"),
    ],
)
def test_create_rejects_invalid_input(
    client: TestClient[Any],
    identities: Identities,
    payload: Any,
    code: str,
    field: str,
    message_part: str,
) -> None:
    response = client.post(CONNECTIONS, json=payload, headers=bearer(identities.owner_key))

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    assert body["details"]["field"] == field
    assert message_part in body["error"]
    assert list_ids(client, identities.owner_key) == []


def test_create_rejects_invalid_json(client: TestClient[Any], identities: Identities) -> None:
    response = client.post(
        CONNECTIONS,
        content=b'{"name": "CRM", "credentials": {"apiKey": "abc"',
        headers={**bearer(identities.owner_key), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    body = response.json()
    assert body == {"success": False, "error": ANY, "code": "INVALID_JSON", "details": {}}
    assert "not valid JSON" in body["error"]
    assert "abc" not in body["error"]
    assert list_ids(client, identities.owner_key) == []


@pytest.mark.parametrize("base_url", ["https://127.0.0.1:8443", "https://10.20.30.40", "http://127.0.0.1:8080"])
def test_create_rejects_private_base_url(
    make_client: ClientFactory,
    identities: Identities,
    monkeypatch: pytest.MonkeyPatch,
    base_url: str,
) -> None:
    monkeypatch.delenv("OPBOX_ALLOW_PRIVATE_NETWORK")
    client = make_client(load_settings())

    response = client.post(CONNECTIONS, json=connection_body(base_url), headers=bearer(identities.owner_key))

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"]["field"] == "config.baseUrl"
    assert list_ids(client, identities.owner_key) == []


def test_list_shows_only_active_workspace(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    first = create_connection(client, identities.owner_key, emulator.base_url, "First CRM")
    second = create_connection(client, identities.owner_key, emulator.base_url, "Second CRM")
    create_connection(client, identities.other_owner_key, emulator.base_url, "Globex CRM")

    assert list_ids(client, identities.viewer_key) == [first, second]


def test_get_returns_details_with_tables(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.viewer_key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == connection_id
    assert body["name"] == "Production CRM"
    assert body["tables"] == [
        {
            "stream": stream,
            "tableName": f"production_crm__{stream}",
            "columns": [],
            "rowCount": 0,
            "lastSyncedAt": None,
        }
        for stream in ("contacts", "companies", "deals")
    ]


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_connection_is_not_found(client: TestClient[Any], identities: Identities, method: str) -> None:
    kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "put" else {}

    response = client.request(
        method.upper(), f"{CONNECTIONS}/cdoesnotexist0000000000000", headers=bearer(identities.owner_key), **kwargs
    )

    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "NOT_FOUND"
    assert "cdoesnotexist0000000000000" in body["error"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/runs"), ("POST", "/runs"), ("POST", "/check")],
)
def test_other_workspace_connection_is_not_found(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, method: str, suffix: str
) -> None:
    foreign_id = create_connection(client, identities.other_owner_key, emulator.base_url, "Globex CRM")
    kwargs: dict[str, Any] = {"json": {"name": "Taken over"}} if method == "PUT" else {}

    response = client.request(
        method, f"{CONNECTIONS}/{foreign_id}{suffix}", headers=bearer(identities.owner_key), **kwargs
    )

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NOT_FOUND"
    still_there = client.get(f"{CONNECTIONS}/{foreign_id}", headers=bearer(identities.other_owner_key))
    assert still_there.json()["name"] == "Globex CRM"


def test_update_changes_fields(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    before = client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key)).json()

    response = client.put(
        f"{CONNECTIONS}/{connection_id}",
        json={
            "type": "CRM_PLATFORM",
            "name": "Renamed CRM",
            "schedule": {"enabled": True, "frequency": "hourly"},
            "notifyUserIds": [identities.member_user_id],
            "enabled": False,
            "config": {"createOwnTables": True},
        },
        headers=bearer(identities.admin_key),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed CRM"
    assert body["schedule"] == {"enabled": True, "frequency": "hourly"}
    assert body["notifyUserIds"] == [identities.member_user_id]
    assert body["enabled"] is False
    assert body["config"] == {"baseUrl": emulator.base_url, "createOwnTables": True}
    assert body["credentials"] == before["credentials"]
    assert body["createdAt"] == before["createdAt"]


def test_update_null_schedule_disables_it(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    response = client.post(
        CONNECTIONS,
        json=connection_body(emulator.base_url, schedule={"enabled": True, "frequency": "daily"}),
        headers=bearer(identities.owner_key),
    )
    connection_id = response.json()["id"]

    updated = client.put(
        f"{CONNECTIONS}/{connection_id}", json={"schedule": None}, headers=bearer(identities.owner_key)
    )

    assert updated.status_code == 200, updated.text
    assert updated.json()["schedule"] is None


def test_update_credentials_changes_fingerprint(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    before = client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key)).json()

    response = client.put(
        f"{CONNECTIONS}/{connection_id}",
        json={"credentials": {"apiKey": "pat-eu1-rotated-000111"}},
        headers=bearer(identities.owner_key),
    )

    assert response.status_code == 200, response.text
    credentials = response.json()["credentials"]
    assert credentials["fields"] == ["apiKey"]
    assert FINGERPRINT.match(credentials["fingerprint"])
    assert credentials["fingerprint"] != before["credentials"]["fingerprint"]
    assert "pat-eu1-rotated-000111" not in response.text


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"type": "SUPPORT"}, "type", id="type-change"),
        pytest.param({"webhookToken": "mine"}, "webhookToken", id="unknown-field"),
        pytest.param({"enabled": "yes"}, "enabled", id="enabled-string"),
        pytest.param({"credentials": {"token": "x"}}, "credentials.token", id="credentials-shape"),
        pytest.param({"config": {"createOwnTables": "yes"}}, "config.createOwnTables", id="config-flag"),
        pytest.param({"schedule": {"frequency": "never"}}, "schedule.frequency", id="schedule"),
        pytest.param({"name": "Fine", "notifyUserIds": [7]}, "notifyUserIds", id="notify-number"),
    ],
)
def test_update_rejects_invalid_input(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, payload: dict[str, Any], field: str
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    before = client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key)).json()

    response = client.put(f"{CONNECTIONS}/{connection_id}", json=payload, headers=bearer(identities.owner_key))

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["field"] == field
    after = client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key)).json()
    assert after == before


def test_update_by_member_is_forbidden(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.put(
        f"{CONNECTIONS}/{connection_id}", json={"name": "Mine"}, headers=bearer(identities.member_key)
    )

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_delete_removes_connection(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.delete(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key))

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key)).status_code == 404
    assert list_ids(client, identities.owner_key) == []


def test_delete_cancels_active_run(
    make_client: ClientFactory, settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    dagster = RecordingDagster()
    client = make_client(dagster=dagster)
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    triggered = client.post(f"{CONNECTIONS}/{connection_id}/runs", headers=bearer(identities.member_key))
    assert triggered.status_code == 201, triggered.text

    response = client.delete(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key))

    assert response.status_code == 200
    assert dagster.terminated == ["dagster-run-1"]
    assert dagster.reloads == 2
    with session_scope(settings.database_url) as session:
        assert session.get(SyncRun, triggered.json()["id"]) is None


def test_delete_by_viewer_is_forbidden(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.delete(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.viewer_key))

    assert response.status_code == 403
    assert list_ids(client, identities.owner_key) == [connection_id]


def test_stored_credentials_never_returned(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    responses = [
        client.get(CONNECTIONS, headers=bearer(identities.owner_key)),
        client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key)),
        client.put(f"{CONNECTIONS}/{connection_id}", json={"name": "Other"}, headers=bearer(identities.owner_key)),
    ]

    for response in responses:
        assert response.status_code == 200
        assert EMULATOR_TOKEN not in response.text
        assert "whk_" not in response.text
