"""The connector catalogue endpoint."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from .conftest import Identities, bearer


def test_lists_every_catalogue_type(client: TestClient[Any], identities: Identities) -> None:
    response = client.get("/api/pipelines/connector-types", headers=bearer(identities.viewer_key))

    assert response.status_code == 200
    types = {item["type"]: item for item in response.json()["connectorTypes"]}
    assert len(types) == 10
    assert "DEV_PLATFORM" in types
    assert [name for name, item in types.items() if item["available"]] == ["CRM_PLATFORM"]


def test_available_type_declares_fields_and_streams(client: TestClient[Any], identities: Identities) -> None:
    response = client.get("/api/pipelines/connector-types", headers=bearer(identities.viewer_key))

    crm = next(item for item in response.json()["connectorTypes"] if item["type"] == "CRM_PLATFORM")
    assert crm["name"] == "CRM Platform"
    assert crm["category"] == "CRM"
    assert crm["credentialFields"] == [
        {
            "name": "apiKey",
            "type": "string",
            "secret": True,
            "required": True,
            "help": "HubSpot private app access token (starts with pat-)",
        }
    ]
    assert [field["name"] for field in crm["configFields"]] == ["baseUrl", "createOwnTables"]
    assert crm["streams"][0] == {
        "name": "contacts",
        "primaryKey": ["id"],
        "cursorField": "lastmodifieddate",
        "supportedSyncModes": ["full_refresh", "incremental"],
    }


def test_unavailable_type_has_empty_lists(client: TestClient[Any], identities: Identities) -> None:
    response = client.get("/api/pipelines/connector-types", headers=bearer(identities.viewer_key))

    dev = next(item for item in response.json()["connectorTypes"] if item["type"] == "DEV_PLATFORM")
    assert dev == {
        "type": "DEV_PLATFORM",
        "name": "Development Platform",
        "category": "Development",
        "available": False,
        "credentialFields": [],
        "configFields": [],
        "streams": [],
    }
