"""The cron endpoint and run-all through the real product, with a cron secret set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.app_db.session import session_scope
from resources.services.identity import add_membership, bootstrap_owner, create_api_key, get_or_create_user
from resources.settings import load_settings
from tests.conftest import isolated_environment
from tests.e2e.harness import Product, start_product
from tests.e2e.harness import TERMINAL_STATUSES
from tests.triggers.support import dagster_runs_of, plain_session, run_records, wait_for

TOKEN = "pat-batch-41c9"
CRON_SECRET = "cron-secret-for-tests-5b0e7a"
CRON = "/api/pipelines/cron"
RUN_ALL = "/api/pipelines/run-all"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    with isolated_environment(tmp_path_factory.mktemp("batch-triggers")) as environment:
        environment.setenv("OPBOX_CRON_SECRET", CRON_SECRET)
        running = start_product(load_settings())
        try:
            yield running
        finally:
            running.stack.stop()


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with start_hubspot_emulator(TOKEN, dataset=HubSpotDataset(contacts=30, companies=5, deals=5)) as running:
        yield running


def _create(product: Product, name: str, base_url: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "type": "CRM_PLATFORM", "credentials": {"apiKey": TOKEN}, "config": {"baseUrl": base_url}, **fields}
    response = product.post("/api/pipelines/connections", body)
    assert response.status_code == 201, response.text
    return response.json()


def _call_cron(product: Product) -> dict[str, Any]:
    response = plain_session().get(f"{product.url}{CRON}", headers={"Authorization": f"Bearer {CRON_SECRET}"}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_cron_rejects_missing_or_wrong_secret(product: Product) -> None:
    http = plain_session()

    missing = http.get(f"{product.url}{CRON}", timeout=30)
    wrong = http.get(f"{product.url}{CRON}", headers={"Authorization": "Bearer not-the-secret"}, timeout=30)
    api_key = product.get(CRON)

    for response in (missing, wrong, api_key):
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORISED"
        assert CRON_SECRET not in response.text


def test_cron_is_idempotent(product: Product, emulator: HubSpotEmulator) -> None:
    hourly = _create(product, "Hourly Cron CRM", emulator.base_url, schedule={"enabled": True, "frequency": "hourly"})
    daily = _create(product, "Daily Cron CRM", emulator.base_url, schedule={"enabled": True, "frequency": "daily"})
    paused = _create(product, "Paused Cron CRM", emulator.base_url, schedule={"enabled": False, "frequency": "hourly"})
    unscheduled = _create(product, "Unscheduled CRM", emulator.base_url)

    first = _call_cron(product)
    second = _call_cron(product)

    assert first["triggered"] == 2
    assert sorted(first["connections"]) == sorted([hourly["id"], daily["id"]])
    assert first["skipped"] == 0
    assert second == {"triggered": 0, "skipped": 2, "connections": []}
    for connection in (hourly, daily):
        records = run_records(connection["id"])
        assert [record.trigger for record in records] == ["CRON"]
        run = product.wait_for_run(connection["id"], records[0].id)
        assert run["status"] == "COMPLETED", run["error"]
        assert dagster_runs_of(connection["id"])[0].tags["opbox/trigger"] == "CRON"
    assert run_records(paused["id"]) == []
    assert run_records(unscheduled["id"]) == []
    assert _call_cron(product)["triggered"] == 0


def test_run_all_skips_busy_connection(product: Product, emulator: HubSpotEmulator) -> None:
    with session_scope(load_settings().database_url) as session:
        other = bootstrap_owner(session, organisation_name="Run All Ltd", workspace_name="Run All", email="runall@example.com")
    http = plain_session()
    http.headers["Authorization"] = f"Bearer {other.api_key}"
    emulator.add_fault("/crm/", delay_seconds=5, times=1)

    def create(name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "type": "CRM_PLATFORM", "credentials": {"apiKey": TOKEN}, "config": {"baseUrl": emulator.base_url}}
        response = http.post(f"{product.url}/api/pipelines/connections", json={**body, **fields}, timeout=120)
        assert response.status_code == 201, response.text
        return response.json()

    busy = create("Busy CRM")
    idle = [create("Idle CRM One"), create("Idle CRM Two")]
    disabled = create("Disabled CRM")
    assert http.put(f"{product.url}/api/pipelines/connections/{disabled['id']}", json={"enabled": False}, timeout=60).status_code == 200
    busy_run = http.post(f"{product.url}/api/pipelines/connections/{busy['id']}/runs", json={}, timeout=120).json()

    response = http.post(f"{product.url}{RUN_ALL}", timeout=120)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["count"] == 2
    assert body["message"] == "Enqueued 2 sync(s), 1 already in progress"
    run_ids = [run_records(connection["id"])[0].id for connection in idle]
    assert sorted(body["runIds"]) == sorted(run_ids)
    assert [record.id for record in run_records(busy["id"])] == [busy_run["id"]]
    assert run_records(disabled["id"]) == []
    for connection in idle:
        record = run_records(connection["id"])[0]
        assert record.trigger == "RUN_ALL"
        assert record.triggered_by_user_id == other.user_id
    for connection, run_id in [*zip(idle, run_ids), (busy, busy_run["id"])]:
        path = f"{product.url}/api/pipelines/connections/{connection['id']}/runs/{run_id}"
        final = wait_for(
            lambda: (body := http.get(path, timeout=30).json())["status"] in TERMINAL_STATUSES and body,
            timeout_seconds=120,
            what=f"run {run_id} to finish",
        )
        assert final["status"] == "COMPLETED", final["error"]
    main_workspace_runs = [run_records(item["id"]) for item in _list_connections(product)]
    assert all(record.trigger != "RUN_ALL" for records in main_workspace_runs for record in records)


def test_run_all_requires_admin(product: Product) -> None:
    with session_scope(load_settings().database_url) as session:
        member = get_or_create_user(session, "member@example.com")
        add_membership(session, member.id, product.owner.organisation_id, "MEMBER", product.owner.workspace_id)
        _, member_key = create_api_key(session, member.id, product.owner.workspace_id)
    http = plain_session()
    http.headers["Authorization"] = f"Bearer {member_key}"

    response = http.post(f"{product.url}{RUN_ALL}", timeout=60)

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def _list_connections(product: Product) -> list[dict[str, Any]]:
    return product.get("/api/pipelines/connections").json()["connections"]
