"""Cursor and accounting rules of the sync engine, on DuckDB and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.instants import format_instant
from tests.engine.harness import Engine

TOKEN = "pat-engine-token-77"
T1 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
T2 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
T3 = datetime(2026, 3, 1, 11, 0, tzinfo=timezone.utc)


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with start_hubspot_emulator(TOKEN, dataset=HubSpotDataset(contacts=0, companies=0, deals=0)) as running:
        yield running


@pytest.fixture
def big_emulator() -> Iterator[HubSpotEmulator]:
    with start_hubspot_emulator(TOKEN, dataset=HubSpotDataset(contacts=260, companies=0, deals=0)) as running:
        yield running


def contact_ids(engine: Engine, name: str) -> list[str]:
    return [row[0] for row in engine.query("SELECT id FROM {table} ORDER BY id", name, "contacts")]


def test_boundary_record_sharing_cursor_is_loaded(engine: Engine, emulator: HubSpotEmulator) -> None:
    dataset = emulator.dataset
    a = dataset.upsert("contacts", None, {"email": "a@example.com"}, T1)
    b = dataset.upsert("contacts", None, {"email": "b@example.com"}, T2)
    connection = engine.create_connection("Boundary CRM", emulator.base_url, TOKEN)
    first = engine.sync(connection, ["contacts"])
    assert first.status == "COMPLETED", first.error
    assert engine.cursor(connection, "contacts") == "2026-03-01T10:00:00.000Z"
    c = dataset.upsert("contacts", None, {"email": "c@example.com"}, T2)

    second = engine.sync(connection, ["contacts"])

    assert second.status == "COMPLETED", second.error
    assert second.rows_created == 1
    assert second.rows_updated == 0
    assert sorted(contact_ids(engine, "Boundary CRM")) == sorted(str(item) for item in (a, b, c))


def test_cursor_is_newest_observed_value_not_clock(engine: Engine, emulator: HubSpotEmulator) -> None:
    emulator.dataset.upsert("contacts", None, {"email": "old@example.com"}, T1)
    connection = engine.create_connection("Clock CRM", emulator.base_url, TOKEN)

    run = engine.sync(connection, ["contacts"])

    assert run.status == "COMPLETED", run.error
    assert engine.cursor(connection, "contacts") == "2026-03-01T09:00:00.000Z"


def test_record_changed_during_run_is_loaded_by_next_run(engine: Engine, big_emulator: HubSpotEmulator) -> None:
    dataset = big_emulator.dataset
    connection = engine.create_connection("Long CRM", big_emulator.base_url, TOKEN)
    assert engine.sync(connection, ["contacts"]).status == "COMPLETED"
    for record_id in range(1, 261):
        dataset.upsert("contacts", record_id, {"firstname": "second pass"}, T1 + timedelta(seconds=record_id))
    # Page 2 of the incremental search waits, and record 5 (already read on page 1) changes meanwhile.
    big_emulator.add_fault("/crm/v3/objects/contacts/search", method="POST", delay_seconds=1.5, after_requests=1, times=1)
    changed_at = T3 + timedelta(days=1)
    timer = threading.Timer(0.7, lambda: dataset.upsert("contacts", 5, {"firstname": "changed mid-run"}, changed_at))
    timer.start()

    engine.sync(connection, ["contacts"])
    timer.join()
    after = engine.sync(connection, ["contacts"])

    assert after.status == "COMPLETED", after.error
    rows = engine.query("SELECT firstname FROM {table} WHERE id = '5'", "Long CRM", "contacts")
    assert rows == [("changed mid-run",)]
    assert engine.cursor(connection, "contacts") == format_instant(changed_at)


def test_repeated_page_token_fails_naming_stream(engine: Engine, big_emulator: HubSpotEmulator) -> None:
    connection = engine.create_connection("Loop CRM", big_emulator.base_url, TOKEN)
    big_emulator.add_fault("/crm/v3/objects/contacts", method="GET", repeat_after=True, times=None)

    run = engine.sync(connection, ["contacts"])

    assert run.status == "FAILED"
    assert "'contacts'" in run.error
    assert "twice" in run.error
    assert engine.cursor(connection, "contacts") is None


def test_error_object_in_success_fails_run(engine: Engine, big_emulator: HubSpotEmulator) -> None:
    connection = engine.create_connection("Error CRM", big_emulator.base_url, TOKEN)
    big_emulator.add_fault(
        "/crm/v3/objects/contacts", method="GET", status=200, body={"status": "error", "message": "search backend unavailable"}, times=None
    )

    run = engine.sync(connection, ["contacts"])

    assert run.status == "FAILED"
    assert "search backend unavailable" in run.error
    assert run.rows_synced == 0
    assert engine.cursor(connection, "contacts") is None
    assert engine.columns("Error CRM", "contacts") == {}


def test_partial_failure_keeps_cursor_and_next_run_recovers(engine: Engine, big_emulator: HubSpotEmulator) -> None:
    connection = engine.create_connection("Partial CRM", big_emulator.base_url, TOKEN)
    assert engine.sync(connection, ["contacts"]).status == "COMPLETED"
    saved = engine.cursor(connection, "contacts")
    for record_id in range(1, 261):
        big_emulator.dataset.upsert("contacts", record_id, {"lastname": "v2"}, T3 + timedelta(seconds=record_id))
    big_emulator.add_fault("/crm/v3/objects/contacts/search", method="POST", status=500, body={"message": "boom"}, after_requests=1, times=None)

    failed = engine.sync(connection, ["contacts"])

    assert failed.status == "FAILED"
    assert engine.cursor(connection, "contacts") == saved
    assert engine.query("SELECT count(*) FROM {table} WHERE lastname = 'v2'", "Partial CRM", "contacts") == [(0,)]
    big_emulator.clear_faults()

    recovered = engine.sync(connection, ["contacts"])

    assert recovered.status == "COMPLETED", recovered.error
    assert recovered.rows_updated == 260
    assert engine.query("SELECT count(*) FROM {table} WHERE lastname = 'v2'", "Partial CRM", "contacts") == [(260,)]


def test_state_does_not_depend_on_trigger(engine: Engine, emulator: HubSpotEmulator) -> None:
    dataset = emulator.dataset
    dataset.upsert("contacts", None, {"email": "t1@example.com"}, T1)
    connection = engine.create_connection("Trigger CRM", emulator.base_url, TOKEN)
    assert engine.sync(connection, ["contacts"], trigger="MANUAL").rows_created == 1
    dataset.upsert("contacts", None, {"email": "t2@example.com"}, T2)

    scheduled = engine.sync(connection, ["contacts"], trigger="SCHEDULED")
    dataset.upsert("contacts", None, {"email": "t3@example.com"}, T3)
    webhook = engine.sync(connection, ["contacts"], trigger="WEBHOOK")

    assert (scheduled.rows_created, scheduled.rows_updated) == (1, 0)
    assert (webhook.rows_created, webhook.rows_updated) == (1, 0)
    assert len(contact_ids(engine, "Trigger CRM")) == 3
    assert engine.cursor(connection, "contacts") == "2026-03-01T11:00:00.000Z"


def test_archived_records_are_marked_not_dropped(engine: Engine, big_emulator: HubSpotEmulator) -> None:
    connection = engine.create_connection("Archive CRM", big_emulator.base_url, TOKEN)
    assert engine.sync(connection, ["contacts"]).status == "COMPLETED"
    big_emulator.dataset.archive("contacts", 12, T3)

    run = engine.sync(connection, ["contacts"])

    assert run.status == "COMPLETED", run.error
    assert run.stream_stats["contacts"]["rowsDeleted"] == 1
    assert engine.query("SELECT count(*) FROM {table}", "Archive CRM", "contacts") == [(260,)]
    marked = engine.query("SELECT id FROM {table} WHERE _opbox_deleted_at IS NOT NULL", "Archive CRM", "contacts")
    assert marked == [("12",)]


def test_empty_stream_creates_declared_table(engine: Engine, emulator: HubSpotEmulator) -> None:
    connection = engine.create_connection("Empty CRM", emulator.base_url, TOKEN)

    run = engine.sync(connection, ["deals"])

    assert run.status == "COMPLETED", run.error
    columns = engine.columns("Empty CRM", "deals")
    assert {"id", "amount", "hs_lastmodifieddate", "_opbox_connection_id", "_opbox_deleted_at"} <= set(columns)
    assert engine.query("SELECT count(*) FROM {table}", "Empty CRM", "deals") == [(0,)]


def test_cursor_compares_offsets_as_instants(engine: Engine, emulator: HubSpotEmulator) -> None:
    emulator.dataset.upsert("contacts", None, {"email": "tz@example.com"}, T2)
    connection = engine.create_connection("Offset CRM", emulator.base_url, TOKEN)
    # 11:30 at +02:00 is 09:30 UTC: earlier than T2 although the text sorts later.
    engine.set_sync_state(connection, {"version": 3, "streams": {"contacts": {"cursor": "2026-03-01T11:30:00+02:00"}}})

    run = engine.sync(connection, ["contacts"])

    assert run.rows_created == 1
    assert engine.cursor(connection, "contacts") == "2026-03-01T10:00:00.000Z"
