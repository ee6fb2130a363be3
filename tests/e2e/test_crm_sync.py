"""A CRM connection synced end to end: HTTP gateway, real Dagster, emulator, DuckDB or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import psycopg2
import pytest

from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.dagster_instance import STORAGE_URL_VARIABLE, dagster_storage_url
from resources.settings import load_settings
from tests.conftest import isolated_environment, postgres_databases
from tests.e2e.harness import Product, start_product

TOKEN = "pat-e2e-token-5f1c"
CONTACTS, COMPANIES, DEALS = 320, 45, 80


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    dataset = HubSpotDataset(contacts=CONTACTS, companies=COMPANIES, deals=DEALS)
    with start_hubspot_emulator(TOKEN, dataset=dataset) as running:
        yield running


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def product(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """One running product per destination, shared by this module's tests (each makes its own connection)."""
    with isolated_environment(tmp_path_factory.mktemp("e2e")) as environment, postgres_databases() as create_database:
        if request.param == "postgres":
            environment.setenv("OPBOX_DATABASE_URL", create_database("app").replace("postgresql://", "postgresql+psycopg2://"))
            environment.setenv("OPBOX_DAGSTER_DATABASE_URL", create_database("dagster"))
            environment.setenv("OPBOX_DESTINATION_URL", create_database("destination"))
        running = start_product(load_settings())
        try:
            yield running
        finally:
            running.stack.stop()


def destination_rows(table: str, dataset: str) -> list[tuple[str, str]]:
    """Return (id, connection id) of every row, read straight from the destination."""
    settings = load_settings()
    sql = f'SELECT id, _opbox_connection_id FROM "{dataset}"."{table}" ORDER BY id'
    if settings.uses_duckdb:
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]
    with psycopg2.connect(settings.destination_url) as db, db.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def test_sync_loads_every_stream_exactly(product: Product, emulator: HubSpotEmulator) -> None:
    connection = product.create_crm_connection("Production CRM", emulator.base_url, TOKEN)

    first = product.sync(connection["id"])

    assert first["status"] == "COMPLETED", first.get("error")
    assert first["rowsSynced"] == CONTACTS + COMPANIES + DEALS
    assert first["rowsCreated"] == CONTACTS + COMPANIES + DEALS
    assert first["rowsUpdated"] == 0
    assert first["streamStats"]["contacts"]["rowsCreated"] == CONTACTS
    dataset = f"ws_{product.owner.workspace_slug}"
    contacts = destination_rows("production_crm__contacts", dataset)
    assert len(contacts) == CONTACTS
    assert {row[1] for row in contacts} == {connection["id"]}
    assert len(destination_rows("production_crm__deals", dataset)) == DEALS

    second = product.sync(connection["id"])

    assert second["status"] == "COMPLETED", second.get("error")
    assert second["rowsCreated"] == 0
    assert second["rowsUpdated"] == 0
    assert len(destination_rows("production_crm__contacts", dataset)) == CONTACTS


def test_changed_and_new_records_are_counted(product: Product, emulator: HubSpotEmulator) -> None:
    connection = product.create_crm_connection("Sales CRM", emulator.base_url, TOKEN)
    assert product.sync(connection["id"], ["contacts"])["status"] == "COMPLETED"
    emulator.dataset.upsert("contacts", 7, {"firstname": "Changed"})
    emulator.dataset.upsert("contacts", None, {"email": "new.person@example.com"})
    emulator.dataset.upsert("contacts", None, {"email": "second.new@example.com"})

    run = product.sync(connection["id"], ["contacts"])

    assert run["status"] == "COMPLETED", run.get("error")
    assert run["rowsCreated"] == 2
    assert run["rowsUpdated"] == 1
    assert run["rowsSynced"] == 3
    details = product.get(f"/api/pipelines/connections/{connection['id']}").json()
    contacts_table = next(table for table in details["tables"] if table["stream"] == "contacts")
    assert contacts_table["rowCount"] == CONTACTS + 2
    assert details["syncState"]["streams"]["contacts"]["cursor"] > "2026-01-01"


def test_dagster_run_is_tagged_with_ids(product: Product, emulator: HubSpotEmulator) -> None:
    connection = product.create_crm_connection("Tagged CRM", emulator.base_url, TOKEN)

    run = product.sync(connection["id"], ["companies"])

    assert run["status"] == "COMPLETED", run.get("error")
    from dagster import DagsterInstance

    settings = load_settings()
    with pytest.MonkeyPatch.context() as environment:
        storage_url = dagster_storage_url(settings)
        if storage_url:
            environment.setenv(STORAGE_URL_VARIABLE, storage_url)
        with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            tags = [dict(item.tags) for item in instance.get_runs()]
    assert {"opbox/connection_id": connection["id"], "opbox/sync_run_id": run["id"], "opbox/trigger": "MANUAL"}.items() <= tags[0].items()
    assert TOKEN not in repr(tags)
