"""Manual, webhook and scheduled syncs through the real product: gateway, Dagster daemon, sensors, run queue.

One product serves the whole module. Each test makes its own connections against its own HubSpot
emulator, and slows the emulator down where a test needs a run to stay active.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from opbox_dagster.schedule_times import cron_expression, spread_offsets
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.ids import new_id
from resources.services.connections import ConnectionInput, create_connection
from resources.settings import load_settings
from resources.vault import load_vault
from tests.conftest import isolated_environment
from tests.e2e.harness import Product, start_product
from tests.e2e.test_crm_sync import destination_rows
from tests.triggers.support import (
    dagster_runs_of,
    plain_session,
    run_body,
    run_records,
    run_worker_pid,
    wait_for,
    webhook_events,
    webhook_url,
)

TOKEN = "pat-triggers-7d2e"
# Three pages of contacts (the connector reads 100 per page), so a run can be stopped mid-stream.
CONTACTS, COMPANIES, DEALS = 250, 5, 5
CONTACTS_LIST = "/crm/v3/objects/contacts"
# The sensor daemon loops every 5 s, so within this wait at least one more tick has run.
SENSOR_TICKS_SECONDS = 6


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    with isolated_environment(tmp_path_factory.mktemp("trigger-runs")):
        running = start_product(load_settings())
        try:
            yield running
        finally:
            running.stack.stop()


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    dataset = HubSpotDataset(contacts=CONTACTS, companies=COMPANIES, deals=DEALS)
    with start_hubspot_emulator(TOKEN, dataset=dataset) as running:
        yield running


@dataclass(frozen=True)
class ScheduledConnection:
    connection_id: str
    fires_at: datetime
    emulator: HubSpotEmulator


def _id_firing_at(minute: int) -> str:
    """Return a new connection id whose hourly schedule fires at ``minute``; about 60 draws are needed."""
    while True:
        candidate = new_id()
        if spread_offsets(candidate).minute == minute:
            return candidate


def _insert_connection(product: Product, connection_id: str, base_url: str) -> None:
    """Store an unscheduled connection with a chosen id, which the API cannot do."""
    settings = load_settings()
    data = ConnectionInput(
        name="Hourly CRM",
        type="CRM_PLATFORM",
        credentials={"apiKey": TOKEN},
        config={"baseUrl": base_url},
        schedule=None,
        notify_user_ids=[],
    )
    with session_scope(settings.database_url) as session:
        connection = create_connection(
            session, load_vault(settings), workspace_id=product.owner.workspace_id, data=data, created_by_user_id=None
        )
        connection.id = connection_id


@pytest.fixture(scope="module")
def scheduled_connection(product: Product) -> Iterator[ScheduledConnection]:
    """A connection whose hourly schedule, switched on through PUT, fires two to three minutes from now.

    The daemon registers a new schedule at its next once-a-minute pass and fires ticks after that,
    so the chosen minute leaves one full pass between the PUT and the tick.
    """
    now = datetime.now(timezone.utc)
    fires_at = now.replace(second=0, microsecond=0) + timedelta(minutes=2 if now.second < 40 else 3)
    connection_id = _id_firing_at(fires_at.minute)
    with start_hubspot_emulator(TOKEN, dataset=HubSpotDataset(contacts=20, companies=5, deals=5)) as running:
        _insert_connection(product, connection_id, running.base_url)
        response = product.http.put(
            f"{product.url}/api/pipelines/connections/{connection_id}",
            json={"schedule": {"enabled": True, "frequency": "hourly"}},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        yield ScheduledConnection(connection_id, fires_at, running)


def _fault_applied(emulator: HubSpotEmulator, fault_id: int) -> bool:
    # The emulator drops a fault once it has been applied as many times as asked.
    return all(item["id"] != fault_id for item in emulator.faults())


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _connection_slug(connection_id: str) -> str:
    with session_scope(load_settings().database_url) as session:
        return session.get(Connection, connection_id).slug


def _graphql_schedules(product: Product) -> dict[str, dict[str, object]]:
    query = """
    query {
      schedulesOrError(repositorySelector: {repositoryLocationName: "opbox", repositoryName: "__repository__"}) {
        ... on Schedules { results { name cronSchedule executionTimezone scheduleState { status } } }
      }
    }
    """
    body = plain_session().post(f"{product.stack.dagster_url}/graphql", json={"query": query}, timeout=60).json()
    return {item["name"]: item for item in body["data"]["schedulesOrError"]["results"]}


def test_schedule_registered_after_put(product: Product, scheduled_connection: ScheduledConnection) -> None:
    connection_id = scheduled_connection.connection_id

    details = product.get(f"/api/pipelines/connections/{connection_id}").json()
    schedules = _graphql_schedules(product)

    assert details["nextRunAt"] == scheduled_connection.fires_at.strftime("%Y-%m-%dT%H:%M:00.000Z")
    schedule = schedules[f"schedule__{product.owner.workspace_slug}__{_connection_slug(connection_id)}"]
    assert schedule["cronSchedule"] == cron_expression(connection_id, "hourly")
    assert schedule["executionTimezone"] == "UTC"
    assert schedule["scheduleState"]["status"] == "RUNNING"


def test_invalid_frequency_rejected(product: Product, emulator: HubSpotEmulator) -> None:
    connection = product.create_crm_connection("Frequency CRM", emulator.base_url, TOKEN)

    response = product.http.put(
        f"{product.url}/api/pipelines/connections/{connection['id']}",
        json={"schedule": {"enabled": True, "frequency": "fortnightly"}},
        timeout=60,
    )

    assert response.status_code == 400
    assert response.json()["details"]["field"] == "schedule.frequency"
    assert connection["nextRunAt"] is None


def test_double_click_starts_one_run(product: Product, emulator: HubSpotEmulator) -> None:
    emulator.add_fault(CONTACTS_LIST, method="GET", delay_seconds=3, times=1)
    connection = product.create_crm_connection("Double Click CRM", emulator.base_url, TOKEN)
    path = f"/api/pipelines/connections/{connection['id']}/runs"

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(product.post, path, {})
        time.sleep(0.1)
        second = pool.submit(product.post, path, {})
        responses = [first.result(), second.result()]

    assert [response.status_code for response in responses] == [201, 409]
    created, conflict = responses[0].json(), responses[1].json()
    assert conflict["code"] == "SYNC_IN_PROGRESS"
    assert conflict["details"]["activeRunId"] == created["id"]
    run = product.wait_for_run(connection["id"], created["id"])
    assert run["status"] == "COMPLETED", run["error"]
    assert [record.id for record in run_records(connection["id"])] == [created["id"]]
    assert len(dagster_runs_of(connection["id"])) == 1
    contacts = destination_rows("double_click_crm__contacts", f"ws_{product.owner.workspace_slug}")
    assert len(contacts) == CONTACTS
    assert len({row[0] for row in contacts}) == CONTACTS
    stop = product.post(f"{path}/{created['id']}")
    assert stop.status_code == 409
    assert stop.json()["details"]["status"] == "COMPLETED"


def test_duplicate_delivery_starts_one_run(product: Product, emulator: HubSpotEmulator) -> None:
    connection = product.create_crm_connection("Webhook CRM", emulator.base_url, TOKEN)
    url = webhook_url(product, connection["id"])
    http = plain_session()
    delivery = {"X-HubSpot-Request-Id": "delivery-0001"}

    first = http.post(url, data=b'{"objectId": 7}', headers=delivery, timeout=30)
    second = http.post(url, data=b'{"objectId": 7}', headers=delivery, timeout=30)

    assert first.status_code == 202
    assert first.json() == {"success": True, "message": "Sync triggered"}
    assert second.status_code == 202
    assert len(webhook_events(connection["id"])) == 1
    records = wait_for(lambda: run_records(connection["id"]), timeout_seconds=60, what="the webhook run record")
    run = product.wait_for_run(connection["id"], records[0].id)
    assert run["status"] == "COMPLETED", run["error"]
    assert run["trigger"] == "WEBHOOK"

    third = http.post(url, data=b'{"objectId": 7}', headers=delivery, timeout=30)
    time.sleep(SENSOR_TICKS_SECONDS)

    assert third.status_code == 202
    events = webhook_events(connection["id"])
    assert [(event.status, event.sync_run_id) for event in events] == [("LAUNCHED", records[0].id)]
    assert events[0].processed_at is not None
    assert len(run_records(connection["id"])) == 1
    dagster_runs = dagster_runs_of(connection["id"])
    assert len(dagster_runs) == 1
    assert dagster_runs[0].tags["opbox/sync_run_id"] == records[0].id
    assert dagster_runs[0].tags["opbox/trigger"] == "WEBHOOK"


def test_webhook_burst_adds_one_follow_up(product: Product, emulator: HubSpotEmulator) -> None:
    emulator.add_fault(CONTACTS_LIST, method="GET", delay_seconds=6, after_requests=1, times=1)
    connection = product.create_crm_connection("Burst CRM", emulator.base_url, TOKEN)
    url = webhook_url(product, connection["id"])
    http = plain_session()

    assert http.post(url, headers={"X-Opbox-Delivery-Id": "burst-1"}, timeout=30).status_code == 202
    first_run = wait_for(
        lambda: next((record for record in run_records(connection["id"]) if record.status == "RUNNING"), None),
        timeout_seconds=60,
        what="the first webhook run to start",
    )
    for number in range(2, 6):
        assert http.post(url, headers={"X-Opbox-Delivery-Id": f"burst-{number}"}, timeout=30).status_code == 202
    assert product.wait_for_run(connection["id"], first_run.id)["status"] == "COMPLETED"
    follow_up = wait_for(
        lambda: next((record for record in run_records(connection["id"]) if record.id != first_run.id), None),
        timeout_seconds=60,
        what="the follow-up run",
    )
    assert product.wait_for_run(connection["id"], follow_up.id)["status"] == "COMPLETED"
    time.sleep(SENSOR_TICKS_SECONDS)

    assert len(run_records(connection["id"])) == 2
    statuses = [(event.status, event.sync_run_id) for event in webhook_events(connection["id"])]
    assert statuses[0] == ("LAUNCHED", first_run.id)
    assert sorted(statuses[1:]) == sorted([("LAUNCHED", follow_up.id)] + [("COALESCED", follow_up.id)] * 3)


def test_webhook_unknown_token_and_disabled(product: Product, emulator: HubSpotEmulator) -> None:
    connection = product.create_crm_connection("Disabled Webhook CRM", emulator.base_url, TOKEN)
    url = webhook_url(product, connection["id"])
    http = plain_session()
    base = f"{product.url}/api/pipelines/webhook/"

    unknown = http.post(base + "whk_" + "x" * 43, timeout=30)
    legacy_shaped = http.post(base + "0123456789abcdef0123456789abcdef", timeout=30)
    response = product.http.put(
        f"{product.url}/api/pipelines/connections/{connection['id']}", json={"enabled": False}, timeout=60
    )
    disabled = http.post(url, timeout=30)

    assert unknown.status_code == 404
    assert legacy_shaped.status_code == 404
    assert unknown.json() == legacy_shaped.json()
    assert unknown.json()["code"] == "NOT_FOUND"
    assert "whk_" not in unknown.text
    assert response.status_code == 200
    assert disabled.status_code == 409
    assert disabled.json()["code"] == "CONNECTION_DISABLED"
    assert "disabled" in disabled.json()["error"]
    assert webhook_events(connection["id"]) == []


def test_cancel_mid_page_stays_cancelled(product: Product, emulator: HubSpotEmulator) -> None:
    fault = emulator.add_fault(CONTACTS_LIST, method="GET", delay_seconds=6, after_requests=1, times=1)
    connection = product.create_crm_connection("Cancelled CRM", emulator.base_url, TOKEN)
    run = product.trigger(connection["id"], ["contacts"])
    wait_for(lambda: _fault_applied(emulator, fault["id"]), timeout_seconds=90, what="page 2 of contacts to be requested")

    stop = product.post(f"/api/pipelines/connections/{connection['id']}/runs/{run['id']}")
    wait_for(
        lambda: [item.is_finished for item in dagster_runs_of(connection["id"])] == [True],
        timeout_seconds=60,
        what="the Dagster run to end",
    )
    # Past the 6 s delay, the page-2 response has arrived, so a worker still running would have finished.
    time.sleep(7)

    assert stop.status_code == 200, stop.text
    assert stop.json()["run"]["status"] == "CANCELLED"
    final = run_body(product, connection["id"], run["id"])
    assert final["status"] == "CANCELLED"
    assert final["rowsSynced"] == 0
    assert final["completedAt"] == stop.json()["run"]["completedAt"]
    details = product.get(f"/api/pipelines/connections/{connection['id']}").json()
    assert details["syncState"] == {"version": 0, "streams": {}}
    assert details["lastSyncedAt"] is None
    assert [item.status.value for item in dagster_runs_of(connection["id"])] != ["SUCCESS"]
    again = product.post(f"/api/pipelines/connections/{connection['id']}/runs/{run['id']}")
    assert again.status_code == 409
    assert again.json()["details"]["status"] == "CANCELLED"


def test_killed_worker_fails_record(product: Product, emulator: HubSpotEmulator) -> None:
    fault = emulator.add_fault(CONTACTS_LIST, method="GET", delay_seconds=60, after_requests=1, times=1)
    connection = product.create_crm_connection("Killed CRM", emulator.base_url, TOKEN)
    run = product.trigger(connection["id"], ["contacts"])
    dagster_run_id = wait_for(
        lambda: run_body(product, connection["id"], run["id"])["status"] == "RUNNING"
        and run_records(connection["id"])[0].dagster_run_id,
        timeout_seconds=90,
        what="the run to start",
    )
    pid = wait_for(lambda: run_worker_pid(dagster_run_id), timeout_seconds=30, what="the run worker's pid")
    wait_for(lambda: _fault_applied(emulator, fault["id"]), timeout_seconds=60, what="page 2 of contacts to be requested")

    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(
        lambda: run_body(product, connection["id"], run["id"])["status"] == "FAILED",
        timeout_seconds=60,
        what="the record to be marked FAILED",
    )
    failed = run_body(product, connection["id"], run["id"])

    assert time.monotonic() - killed_at < 60
    assert "stopped before the sync finished" in failed["error"]
    assert "SIGKILL" in failed["error"]
    assert "Traceback" not in failed["error"]
    emulator.clear_faults()
    retry = product.sync(connection["id"], ["contacts"])
    assert retry["status"] == "COMPLETED", retry["error"]


def test_schedule_fires_through_daemon(product: Product, scheduled_connection: ScheduledConnection) -> None:
    connection_id = scheduled_connection.connection_id
    seconds_left = (scheduled_connection.fires_at - datetime.now(timezone.utc)).total_seconds()

    records = wait_for(
        lambda: run_records(connection_id),
        timeout_seconds=max(seconds_left, 0) + 90,
        what=f"the schedule to fire at {scheduled_connection.fires_at.isoformat()}",
    )
    run = product.wait_for_run(connection_id, records[0].id)

    assert run["trigger"] == "SCHEDULED"
    assert run["status"] == "COMPLETED", run["error"]
    assert _instant(run["createdAt"]) >= scheduled_connection.fires_at
    assert len(run_records(connection_id)) == 1
    dagster_runs = dagster_runs_of(connection_id)
    assert len(dagster_runs) == 1
    assert dagster_runs[0].tags["opbox/sync_run_id"] == records[0].id
    assert dagster_runs[0].tags["opbox/trigger"] == "SCHEDULED"
    assert "dagster/schedule_name" in dagster_runs[0].tags

