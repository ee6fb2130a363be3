"""The cron, run-all and webhook routes in-process, without a Dagster webserver."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api_gateway.app import create_app
from api_gateway.rate_limits import WEBHOOK_DELIVERIES_PER_MINUTE, webhook_limiter
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.vault import load_vault
from tests.triggers.conftest import AppDatabase
from tests.triggers.support import run_records, webhook_events

CRON_SECRET = "unit-cron-secret-93a1"
HOURLY = {"enabled": True, "frequency": "hourly"}


@pytest.fixture
def client(app_db: AppDatabase) -> Iterator[TestClient[Any]]:
    webhook_limiter.reset()
    settings = dataclasses.replace(app_db.settings, cron_secret=CRON_SECRET)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _token(app_db: AppDatabase, connection_id: str) -> str:
    with session_scope(app_db.settings.database_url) as session:
        sealed = session.get(Connection, connection_id).webhook_token_encrypted
    return load_vault(app_db.settings).decrypt(sealed)


def test_cron_disabled_without_secret(app_db: AppDatabase) -> None:
    with TestClient(create_app(app_db.settings)) as unconfigured:
        response = unconfigured.get("/api/pipelines/cron", headers={"Authorization": "Bearer anything"})

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "CRON_DISABLED"
    assert "disabled" in body["error"]
    assert "OPBOX_CRON_SECRET" in body["error"]


def test_cron_without_dagster_retries_next_call(app_db: AppDatabase, client: TestClient[Any]) -> None:
    connection_id = app_db.add_connection("Hourly CRM", schedule=HOURLY)
    headers = {"Authorization": f"Bearer {CRON_SECRET}"}

    first = client.get("/api/pipelines/cron", headers=headers)
    second = client.get("/api/pipelines/cron", headers=headers)

    for response in (first, second):
        assert response.status_code == 503
        assert response.json()["code"] == "DAGSTER_UNAVAILABLE"
        assert response.json()["details"] == {"runIds": []}
    records = run_records(connection_id)
    assert [(record.trigger, record.status) for record in records] == [("CRON", "FAILED"), ("CRON", "FAILED")]


def test_run_all_without_dagster(app_db: AppDatabase, client: TestClient[Any]) -> None:
    app_db.add_connection("Some CRM")

    response = client.post("/api/pipelines/run-all", headers={"Authorization": f"Bearer {app_db.owner.api_key}"})

    assert response.status_code == 503
    assert response.json()["details"] == {"runIds": []}


def test_run_all_needs_api_key(client: TestClient[Any]) -> None:
    response = client.post("/api/pipelines/run-all")

    assert response.status_code == 401


def test_webhook_records_delivery(app_db: AppDatabase, client: TestClient[Any]) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    url = f"/api/pipelines/webhook/{_token(app_db, connection_id)}"

    first = client.post(url, content=b'{"event": "contact.updated"}', headers={"X-Request-Id": "req-1"})
    repeat = client.post(url, content=b'{"event": "contact.updated"}', headers={"X-Request-Id": "req-1"})
    empty = client.post(url)

    assert first.status_code == 202
    assert first.json() == {"success": True, "message": "Sync triggered"}
    assert repeat.status_code == 202
    assert empty.status_code == 202
    events = webhook_events(connection_id)
    assert [event.delivery_key for event in events] == ["id:req-1", events[1].delivery_key]
    assert events[1].delivery_key.startswith("body:")
    assert [event.status for event in events] == ["PENDING", "PENDING"]
    assert events[0].body_bytes == len(b'{"event": "contact.updated"}')
    assert run_records(connection_id) == []


def test_webhook_unknown_token(client: TestClient[Any]) -> None:
    short = client.post("/api/pipelines/webhook/nope")
    long = client.post("/api/pipelines/webhook/" + "x" * 300)

    assert short.status_code == 404
    assert long.status_code == 404
    assert short.json() == long.json()
    assert "nope" not in short.text


def test_webhook_rate_limited(app_db: AppDatabase, client: TestClient[Any]) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    url = f"/api/pipelines/webhook/{_token(app_db, connection_id)}"

    limit = WEBHOOK_DELIVERIES_PER_MINUTE
    statuses = [client.post(url, headers={"X-Request-Id": f"r-{number}"}).status_code for number in range(limit + 1)]

    assert statuses[:limit] == [202] * limit
    assert statuses[limit] == 429
