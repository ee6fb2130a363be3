"""The error envelope on Litestar's own errors, oversized bodies, server errors and health."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from resources.settings import Settings

from .conftest import EMULATOR_TOKEN, ClientFactory, Identities, bearer

CONNECTIONS = "/api/pipelines/connections"
ONE_MIB = 1024 * 1024


def assert_envelope(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"success", "error", "code", "details"}
    assert body["success"] is False
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]


def test_unknown_route_is_enveloped(client: TestClient[Any]) -> None:
    response = client.get("/api/pipelines/nothing-here")

    assert response.status_code == 404
    assert_envelope(response.json(), "NOT_FOUND")


def test_wrong_method_is_enveloped(client: TestClient[Any], identities: Identities) -> None:
    response = client.patch("/api/pipelines/connector-types", headers=bearer(identities.owner_key))

    assert response.status_code == 405
    body = response.json()
    assert_envelope(body, "METHOD_NOT_ALLOWED")
    assert "GET" in body["error"]


def test_body_over_limit_is_rejected(client: TestClient[Any], identities: Identities) -> None:
    padding = "x" * ONE_MIB
    content = f'{{"name": "Big", "type": "CRM_PLATFORM", "padding": "{padding}"}}'.encode()

    response = client.post(
        CONNECTIONS,
        content=content,
        headers={**bearer(identities.owner_key), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert_envelope(response.json(), "PAYLOAD_TOO_LARGE")
    assert client.get(CONNECTIONS, headers=bearer(identities.owner_key)).json() == {"connections": []}


def test_body_just_under_limit_is_read(client: TestClient[Any], identities: Identities) -> None:
    content = b"[" + b" " * (ONE_MIB - 2) + b"]"

    response = client.post(
        CONNECTIONS, content=content, headers={**bearer(identities.owner_key), "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"field": "body"}


def test_invalid_json_on_update(client: TestClient[Any], identities: Identities) -> None:
    response = client.put(
        f"{CONNECTIONS}/cany000000000000000000000",
        content=b"{'name': 'single quotes'}",
        headers={**bearer(identities.owner_key), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert_envelope(response.json(), "INVALID_JSON")


def test_unexpected_error_is_generic(
    client: TestClient[Any],
    identities: Identities,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_serialiser(connection: object) -> dict[str, Any]:
        raise RuntimeError("serialiser bug")

    monkeypatch.setattr("api_gateway.controllers.connections.connection_json", broken_serialiser)
    caplog.set_level(logging.ERROR, logger="api_gateway")
    body = {"name": "CRM", "type": "CRM_PLATFORM", "credentials": {"apiKey": EMULATOR_TOKEN}}

    response = client.post(CONNECTIONS, json=body, headers=bearer(identities.owner_key))

    assert response.status_code == 500
    envelope = response.json()
    assert_envelope(envelope, "INTERNAL_ERROR")
    assert "serialiser bug" not in envelope["error"]
    assert "POST /api/pipelines/connections" in caplog.text
    assert EMULATOR_TOKEN not in caplog.text


def test_openapi_schema_renders(client: TestClient[Any]) -> None:
    response = client.get("/schema/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/pipelines/connections/{connection_id}/runs/{run_id}" in paths
    assert "/api/health" in paths


def test_health_reports_unreachable_database(
    make_client: ClientFactory, settings: Settings, tmp_path: Path
) -> None:
    # A directory is not an SQLite database file, so connecting fails.
    broken = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path}")
    client = make_client(broken)

    response = client.get("/api/health")

    assert response.status_code == 503
    assert_envelope(response.json(), "DATABASE_UNAVAILABLE")
