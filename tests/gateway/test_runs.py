"""Sync run endpoints: history with pagination, one run, trigger and stop."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from unittest.mock import ANY

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import SyncRun
from resources.app_db.session import session_scope
from resources.settings import Settings

from .conftest import ClientFactory, Identities, RecordingDagster, bearer, create_connection

CONNECTIONS = "/api/pipelines/connections"
STARTED = datetime(2026, 2, 11, 10, 0, tzinfo=timezone.utc)


def insert_run(
    settings: Settings,
    identities: Identities,
    connection_id: str,
    *,
    minutes: int,
    status: str = "COMPLETED",
    dagster_run_id: str | None = None,
) -> str:
    """Insert a run created ``minutes`` after STARTED. Finished runs took 150 seconds."""
    created = STARTED + timedelta(minutes=minutes)
    finished = status not in ("PENDING", "RUNNING")
    with session_scope(settings.database_url) as session:
        run = SyncRun(
            connection_id=connection_id,
            workspace_id=identities.workspace_id,
            status=status,
            active_connection_id=None if finished else connection_id,
            trigger="MANUAL",
            streams=["contacts", "deals"],
            dagster_run_id=dagster_run_id,
            created_at=created,
            started_at=created,
            completed_at=created + timedelta(seconds=150) if finished else None,
            rows_synced=150,
            rows_created=30,
            rows_updated=120,
            stream_stats={"contacts": {"rowsSynced": 100}, "deals": {"rowsSynced": 50}},
        )
        session.add(run)
        session.flush()
        return run.id


@pytest.fixture
def connection_id(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> str:
    return create_connection(client, identities.owner_key, emulator.base_url)


def test_empty_history(client: TestClient[Any], identities: Identities, connection_id: str) -> None:
    response = client.get(f"{CONNECTIONS}/{connection_id}/runs", headers=bearer(identities.viewer_key))

    assert response.status_code == 200
    assert response.json() == {
        "runs": [],
        "pagination": {"limit": 50, "offset": 0, "total": 0, "hasMore": False},
    }


def test_history_newest_first_with_pagination(
    client: TestClient[Any], settings: Settings, identities: Identities, connection_id: str
) -> None:
    run_ids = [insert_run(settings, identities, connection_id, minutes=minutes) for minutes in (0, 10, 20)]

    first_page = client.get(f"{CONNECTIONS}/{connection_id}/runs?limit=2", headers=bearer(identities.viewer_key))
    second_page = client.get(
        f"{CONNECTIONS}/{connection_id}/runs?limit=2&offset=2", headers=bearer(identities.viewer_key)
    )

    assert first_page.status_code == 200
    first = first_page.json()
    assert [run["id"] for run in first["runs"]] == [run_ids[2], run_ids[1]]
    assert first["pagination"] == {"limit": 2, "offset": 0, "total": 3, "hasMore": True}
    second = second_page.json()
    assert second["runs"] == [
        {
            "id": run_ids[0],
            "status": "COMPLETED",
            "trigger": "MANUAL",
            "startedAt": "2026-02-11T10:00:00.000Z",
            "completedAt": "2026-02-11T10:02:30.000Z",
            "rowsSynced": 150,
            "rowsCreated": 30,
            "rowsUpdated": 120,
            "error": None,
            "streams": ["contacts", "deals"],
            "createdAt": "2026-02-11T10:00:00.000Z",
        }
    ]
    assert second["pagination"] == {"limit": 2, "offset": 2, "total": 3, "hasMore": False}


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset")],
)
def test_history_rejects_bad_paging(
    client: TestClient[Any], identities: Identities, connection_id: str, query: str, field: str
) -> None:
    response = client.get(f"{CONNECTIONS}/{connection_id}/runs?{query}", headers=bearer(identities.viewer_key))

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"] == {"field": field, "source": "query"}
    assert f"query parameter {field}" in body["error"]


def test_get_run_includes_stream_stats(
    client: TestClient[Any], settings: Settings, identities: Identities, connection_id: str
) -> None:
    run_id = insert_run(settings, identities, connection_id, minutes=0)

    response = client.get(f"{CONNECTIONS}/{connection_id}/runs/{run_id}", headers=bearer(identities.viewer_key))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == run_id
    assert body["streamStats"] == {"contacts": {"rowsSynced": 100}, "deals": {"rowsSynced": 50}}


def test_get_run_of_other_connection_is_not_found(
    client: TestClient[Any],
    settings: Settings,
    identities: Identities,
    emulator: HubSpotEmulator,
    connection_id: str,
) -> None:
    other_id = create_connection(client, identities.owner_key, emulator.base_url, "Other CRM")
    run_id = insert_run(settings, identities, other_id, minutes=0)

    response = client.get(f"{CONNECTIONS}/{connection_id}/runs/{run_id}", headers=bearer(identities.viewer_key))

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_trigger_without_dagster_fails_run(
    client: TestClient[Any], settings: Settings, identities: Identities, connection_id: str
) -> None:
    response = client.post(f"{CONNECTIONS}/{connection_id}/runs", headers=bearer(identities.member_key))

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "DAGSTER_UNAVAILABLE"
    assert "OPBOX_DAGSTER_URL" in body["error"]
    with session_scope(settings.database_url) as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id)).all()
        assert [run.status for run in runs] == ["FAILED"]
        assert runs[0].active_connection_id is None
        assert "OPBOX_DAGSTER_URL" in (runs[0].error or "")


def test_trigger_queues_dagster_run(
    make_client: ClientFactory, identities: Identities, emulator: HubSpotEmulator
) -> None:
    dagster = RecordingDagster()
    client = make_client(dagster=dagster)
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.post(
        f"{CONNECTIONS}/{connection_id}/runs", json={"streams": ["deals"]}, headers=bearer(identities.member_key)
    )

    assert response.status_code == 201, response.text
    assert response.json() == {
        "id": ANY,
        "status": "PENDING",
        "trigger": "MANUAL",
        "startedAt": None,
        "completedAt": None,
        "rowsSynced": 0,
        "rowsCreated": 0,
        "rowsUpdated": 0,
        "error": None,
        "streams": ["deals"],
        "createdAt": ANY,
    }
    job_name, asset_paths, tags = dagster.launched[0]
    assert job_name == f"sync__{identities.workspace_slug}__production_crm"
    assert asset_paths == [[identities.workspace_slug, "production_crm", "deals"]]
    assert tags["opbox/sync_run_id"] == response.json()["id"]


def test_trigger_busy_connection_conflicts(
    make_client: ClientFactory, identities: Identities, emulator: HubSpotEmulator
) -> None:
    client = make_client(dagster=RecordingDagster())
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    first = client.post(f"{CONNECTIONS}/{connection_id}/runs", headers=bearer(identities.member_key))

    second = client.post(f"{CONNECTIONS}/{connection_id}/runs", headers=bearer(identities.member_key))

    assert first.status_code == 201
    assert first.json()["streams"] == ["contacts", "companies", "deals"]
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "SYNC_IN_PROGRESS"
    assert body["details"] == {"activeRunId": first.json()["id"]}


@pytest.mark.parametrize(
    ("payload", "message_part"),
    [
        pytest.param({"streams": ["tickets"]}, "unknown stream 'tickets'", id="unknown-stream"),
        pytest.param({"streams": []}, "non-empty array", id="empty-list"),
        pytest.param({"streams": "deals"}, "non-empty array", id="string"),
    ],
)
def test_trigger_rejects_bad_streams(
    make_client: ClientFactory,
    settings: Settings,
    identities: Identities,
    emulator: HubSpotEmulator,
    payload: dict[str, Any],
    message_part: str,
) -> None:
    client = make_client(dagster=RecordingDagster())
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.post(f"{CONNECTIONS}/{connection_id}/runs", json=payload, headers=bearer(identities.member_key))

    assert response.status_code == 400
    assert response.json()["details"]["field"] == "streams"
    assert message_part in response.json()["error"]
    with session_scope(settings.database_url) as session:
        assert session.scalars(select(SyncRun)).all() == []


def test_trigger_disabled_connection_conflicts(
    make_client: ClientFactory, identities: Identities, emulator: HubSpotEmulator
) -> None:
    dagster = RecordingDagster()
    client = make_client(dagster=dagster)
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    client.put(f"{CONNECTIONS}/{connection_id}", json={"enabled": False}, headers=bearer(identities.owner_key))

    response = client.post(f"{CONNECTIONS}/{connection_id}/runs", headers=bearer(identities.member_key))

    assert response.status_code == 409
    assert response.json()["code"] == "CONNECTION_DISABLED"
    assert dagster.launched == []


def test_stop_active_run(
    make_client: ClientFactory, settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    dagster = RecordingDagster()
    client = make_client(dagster=dagster)
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    run_id = insert_run(settings, identities, connection_id, minutes=0, status="RUNNING", dagster_run_id="dr-42")

    response = client.post(f"{CONNECTIONS}/{connection_id}/runs/{run_id}", headers=bearer(identities.member_key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["run"]["id"] == run_id
    assert body["run"]["status"] == "CANCELLED"
    assert body["run"]["error"] == "stopped by member@acme.example"
    assert dagster.terminated == ["dr-42"]
    with session_scope(settings.database_url) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        assert run.active_connection_id is None


def test_stop_finished_run_conflicts(
    client: TestClient[Any], settings: Settings, identities: Identities, connection_id: str
) -> None:
    run_id = insert_run(settings, identities, connection_id, minutes=0, status="COMPLETED")

    response = client.post(f"{CONNECTIONS}/{connection_id}/runs/{run_id}", headers=bearer(identities.member_key))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "RUN_NOT_ACTIVE"
    assert body["details"] == {"status": "COMPLETED"}


def test_stop_unknown_run_is_not_found(client: TestClient[Any], identities: Identities, connection_id: str) -> None:
    response = client.post(
        f"{CONNECTIONS}/{connection_id}/runs/cnosuchrun000000000000000", headers=bearer(identities.member_key)
    )

    assert response.status_code == 404
