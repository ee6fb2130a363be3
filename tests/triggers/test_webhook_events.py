"""Webhook token lookup, delivery keys, stored events and how the sensor's dispatch turns them into runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from opbox_dagster.catalogue import load_connection_entries
from opbox_dagster.sync.run_records import create_run, start_run
from opbox_dagster.webhook_dispatch import DispatchSummary, dispatch_pending_events
from resources.app_db.models import Connection, SyncRun, WebhookEvent
from resources.app_db.session import session_scope
from resources.services.webhooks import (
    BODY_REPEAT_WINDOW,
    delivery_key,
    find_connection_by_token,
    record_delivery,
)
from resources.vault import load_vault
from tests.triggers.conftest import AppDatabase

STREAMS = ["contacts", "companies", "deals"]
BUCKET_SECONDS = BODY_REPEAT_WINDOW.total_seconds()
# The last second of a time bucket, so one more second falls into the next bucket.
BUCKET_EDGE = datetime.fromtimestamp((1_780_000_000 // BUCKET_SECONDS + 1) * BUCKET_SECONDS - 1, timezone.utc)


def _connection(app_db: AppDatabase, connection_id: str) -> Connection:
    with session_scope(app_db.settings.database_url) as session:
        return session.get(Connection, connection_id)


def _deliver(app_db: AppDatabase, connection_id: str, headers: dict[str, str], body: bytes = b"{}", at: datetime = BUCKET_EDGE) -> bool:
    """Record a delivery and return whether it was new."""
    key = delivery_key(headers, body, at)
    recorded = record_delivery(
        app_db.settings.database_url, _connection(app_db, connection_id), key, received_at=at, source_ip="127.0.0.1", body_bytes=len(body)
    )
    return not recorded.duplicate


def _events(app_db: AppDatabase, connection_id: str) -> list[tuple[str, str | None]]:
    with session_scope(app_db.settings.database_url) as session:
        events = session.scalars(
            select(WebhookEvent).where(WebhookEvent.connection_id == connection_id).order_by(WebhookEvent.received_at, WebhookEvent.id)
        )
        return [(event.status, event.sync_run_id) for event in events]


def _dispatch(app_db: AppDatabase) -> DispatchSummary:
    entries = {entry.connection_id: entry for entry in load_connection_entries(app_db.settings)}
    return dispatch_pending_events(app_db.settings, entries)


def test_token_lookup(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    token = load_vault(app_db.settings).decrypt(_connection(app_db, connection_id).webhook_token_encrypted)

    with session_scope(app_db.settings.database_url) as session:
        found = find_connection_by_token(session, token)
        unknown = find_connection_by_token(session, token[:-1] + ("A" if token[-1] != "A" else "B"))
        oversized = find_connection_by_token(session, token * 10)
        empty = find_connection_by_token(session, "")

    assert found is not None
    assert found.id == connection_id
    assert unknown is None
    assert oversized is None
    assert empty is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"x-opbox-delivery-id": "a1", "x-request-id": "r1"}, "id:a1", id="opbox-header-first"),
        pytest.param({"x-hubspot-request-id": "hs-9"}, "id:hs-9", id="hubspot-header"),
        pytest.param({"x-request-id": "  r2  "}, "id:r2", id="request-id-trimmed"),
        pytest.param({"x-request-id": "r" * 101}, "id-sha256:", id="long-id-hashed"),
        pytest.param({"x-request-id": ""}, "body:", id="empty-header-ignored"),
    ],
)
def test_delivery_key_source(headers: dict[str, str], expected: str) -> None:
    assert delivery_key(headers, b"{}", BUCKET_EDGE).value.startswith(expected)


def test_delivery_key_fits_column() -> None:
    assert len(delivery_key({"x-request-id": "r" * 5000}, b"", BUCKET_EDGE).value) <= 128
    assert len(delivery_key({}, b"x" * 5000, BUCKET_EDGE).value) <= 128


def test_repeated_delivery_id_stored_once(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    other_id = app_db.add_connection("Other CRM")

    assert _deliver(app_db, connection_id, {"x-request-id": "d-1"}) is True
    assert _deliver(app_db, connection_id, {"x-request-id": "d-1"}, at=BUCKET_EDGE + timedelta(days=3)) is False
    assert _deliver(app_db, other_id, {"x-request-id": "d-1"}) is True
    assert len(_events(app_db, connection_id)) == 1


def test_repeated_body_within_window_stored_once(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")

    first = _deliver(app_db, connection_id, {}, b'{"id": 1}')
    next_bucket = _deliver(app_db, connection_id, {}, b'{"id": 1}', BUCKET_EDGE + timedelta(seconds=2))
    other_body = _deliver(app_db, connection_id, {}, b'{"id": 2}')
    after_window = _deliver(app_db, connection_id, {}, b'{"id": 1}', BUCKET_EDGE + BODY_REPEAT_WINDOW + timedelta(seconds=2))

    assert [first, next_bucket, other_body, after_window] == [True, False, True, True]
    assert len(_events(app_db, connection_id)) == 3


def test_dispatch_launches_one_run_per_connection(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    for number in range(3):
        _deliver(app_db, connection_id, {"x-request-id": f"d-{number}"})

    summary = _dispatch(app_db)
    again = _dispatch(app_db)

    (dispatch,) = summary.launched
    assert dispatch.entry.connection_id == connection_id
    assert dispatch.event_count == 3
    assert _events(app_db, connection_id) == [
        ("LAUNCHED", dispatch.sync_run_id),
        ("COALESCED", dispatch.sync_run_id),
        ("COALESCED", dispatch.sync_run_id),
    ]
    with session_scope(app_db.settings.database_url) as session:
        first_event = session.scalar(select(WebhookEvent.id).where(WebhookEvent.status == "LAUNCHED"))
        record = session.get(SyncRun, dispatch.sync_run_id)
        assert record.trigger == "WEBHOOK"
        assert record.streams == STREAMS
    assert dispatch.run_key == f"webhook-{first_event}"
    assert again.launched == []


def test_events_wait_while_run_is_running(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    active = create_run(app_db.settings, connection_id=connection_id, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=STREAMS)
    assert start_run(app_db.settings, active, "dagster-run-1")
    _deliver(app_db, connection_id, {"x-request-id": "d-1"})
    _deliver(app_db, connection_id, {"x-request-id": "d-2"})

    summary = _dispatch(app_db)

    assert summary.launched == []
    assert summary.waiting_connections == [connection_id]
    assert _events(app_db, connection_id) == [("PENDING", None), ("PENDING", None)]


def test_events_coalesce_into_pending_run(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    pending = create_run(app_db.settings, connection_id=connection_id, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=STREAMS)
    _deliver(app_db, connection_id, {"x-request-id": "d-1"})

    summary = _dispatch(app_db)

    assert summary.launched == []
    assert summary.coalesced_events == 1
    assert _events(app_db, connection_id) == [("COALESCED", pending)]


def test_partial_pending_run_keeps_events(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    create_run(app_db.settings, connection_id=connection_id, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=["deals"])
    _deliver(app_db, connection_id, {"x-request-id": "d-1"})

    summary = _dispatch(app_db)

    assert summary.waiting_connections == [connection_id]
    assert _events(app_db, connection_id) == [("PENDING", None)]


def test_events_of_disabled_connection_skipped(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    _deliver(app_db, connection_id, {"x-request-id": "d-1"})
    entries = {entry.connection_id: entry for entry in load_connection_entries(app_db.settings)}
    with session_scope(app_db.settings.database_url) as session:
        session.get(Connection, connection_id).enabled = False

    summary = dispatch_pending_events(app_db.settings, entries)

    assert summary.skipped_events == 1
    assert _events(app_db, connection_id) == [("SKIPPED", None)]


def test_events_of_connection_not_loaded_skipped(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Webhook CRM")
    _deliver(app_db, connection_id, {"x-request-id": "d-1"})

    summary = dispatch_pending_events(app_db.settings, {})

    assert summary.skipped_events == 1
    assert _events(app_db, connection_id) == [("SKIPPED", None)]
