"""Table summaries in connection details and the rows endpoint, on a DuckDB destination."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb
import pytest
from litestar.testing import TestClient

from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import SyncRun
from resources.app_db.session import session_scope
from resources.destination import dataset_name, table_name
from resources.settings import Settings

from .conftest import Identities, bearer, create_connection

CONNECTIONS = "/api/pipelines/connections"
SYNCED_AT = datetime(2026, 2, 11, 10, 2, 30, tzinfo=timezone.utc)


def create_contacts_table(settings: Settings, workspace_slug: str, rows: list[tuple[str, str, str]]) -> str:
    """Create the shared contacts table with ``(connection id, id, email)`` rows and return its name."""
    dataset = dataset_name(workspace_slug)
    table = table_name("Production CRM", "contacts", own_tables=False)
    database = duckdb.connect(str(settings.duckdb_path))
    try:
        database.execute(f'CREATE SCHEMA "{dataset}"')
        database.execute(
            f'CREATE TABLE "{dataset}"."{table}" (_opbox_connection_id VARCHAR, id VARCHAR, email VARCHAR)'
        )
        database.executemany(f'INSERT INTO "{dataset}"."{table}" VALUES (?, ?, ?)', rows)
    finally:
        database.close()
    return table


def record_completed_run(settings: Settings, identities: Identities, connection_id: str) -> None:
    with session_scope(settings.database_url) as session:
        session.add(
            SyncRun(
                connection_id=connection_id,
                workspace_id=identities.workspace_id,
                status="COMPLETED",
                streams=["contacts"],
                completed_at=SYNCED_AT,
                stream_stats={"contacts": {"rowsSynced": 3}},
            )
        )


@pytest.fixture
def connection_id(client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator) -> str:
    return create_connection(client, identities.owner_key, emulator.base_url)


@pytest.fixture
def contacts_table(settings: Settings, identities: Identities, connection_id: str) -> str:
    # The variant's rows share the table and must never show up for this connection.
    return create_contacts_table(
        settings,
        identities.workspace_slug,
        [
            (connection_id, "3", "c@example.com"),
            (connection_id, "1", "a@example.com"),
            ("cvariantconnection0000000", "2", "variant@example.com"),
            (connection_id, "2", "b@example.com"),
        ],
    )


def test_rows_filtered_and_ordered_by_key(
    client: TestClient[Any], identities: Identities, connection_id: str, contacts_table: str
) -> None:
    response = client.get(
        f"{CONNECTIONS}/{connection_id}/tables/contacts/rows?limit=2", headers=bearer(identities.viewer_key)
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "stream": "contacts",
        "tableName": contacts_table,
        "columns": [
            {"name": "_opbox_connection_id", "type": "VARCHAR"},
            {"name": "id", "type": "VARCHAR"},
            {"name": "email", "type": "VARCHAR"},
        ],
        "rows": [
            {"_opbox_connection_id": connection_id, "id": "1", "email": "a@example.com"},
            {"_opbox_connection_id": connection_id, "id": "2", "email": "b@example.com"},
        ],
        "pagination": {"limit": 2, "offset": 0, "total": 3, "hasMore": True},
    }


def test_rows_second_page(
    client: TestClient[Any], identities: Identities, connection_id: str, contacts_table: str
) -> None:
    response = client.get(
        f"{CONNECTIONS}/{connection_id}/tables/contacts/rows?limit=2&offset=2", headers=bearer(identities.viewer_key)
    )

    body = response.json()
    assert [row["id"] for row in body["rows"]] == ["3"]
    assert body["pagination"] == {"limit": 2, "offset": 2, "total": 3, "hasMore": False}


def test_rows_before_first_sync(client: TestClient[Any], identities: Identities, connection_id: str) -> None:
    response = client.get(f"{CONNECTIONS}/{connection_id}/tables/deals/rows", headers=bearer(identities.viewer_key))

    assert response.status_code == 200
    assert response.json() == {
        "stream": "deals",
        "tableName": "production_crm__deals",
        "columns": [],
        "rows": [],
        "pagination": {"limit": 100, "offset": 0, "total": 0, "hasMore": False},
    }


def test_rows_unknown_stream_lists_valid(client: TestClient[Any], identities: Identities, connection_id: str) -> None:
    response = client.get(f"{CONNECTIONS}/{connection_id}/tables/tickets/rows", headers=bearer(identities.viewer_key))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"] == {"field": "stream", "validStreams": ["contacts", "companies", "deals"]}
    assert "contacts, companies, deals" in body["error"]


def test_rows_rejects_limit_over_maximum(client: TestClient[Any], identities: Identities, connection_id: str) -> None:
    response = client.get(
        f"{CONNECTIONS}/{connection_id}/tables/contacts/rows?limit=1001", headers=bearer(identities.viewer_key)
    )

    assert response.status_code == 400
    assert response.json()["details"]["field"] == "limit"


def test_details_summarise_tables(
    client: TestClient[Any], settings: Settings, identities: Identities, connection_id: str, contacts_table: str
) -> None:
    record_completed_run(settings, identities, connection_id)

    response = client.get(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.viewer_key))

    assert response.status_code == 200
    tables = {table["stream"]: table for table in response.json()["tables"]}
    assert tables["contacts"] == {
        "stream": "contacts",
        "tableName": contacts_table,
        "columns": [
            {"name": "_opbox_connection_id", "type": "VARCHAR"},
            {"name": "id", "type": "VARCHAR"},
            {"name": "email", "type": "VARCHAR"},
        ],
        "rowCount": 3,
        "lastSyncedAt": "2026-02-11T10:02:30.000Z",
    }
    assert tables["deals"] == {
        "stream": "deals",
        "tableName": "production_crm__deals",
        "columns": [],
        "rowCount": 0,
        "lastSyncedAt": None,
    }
