"""Schedules built from the app database and their tick evaluation, run in-process through Dagster's API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import DefaultScheduleStatus, build_schedule_context
from dagster._core.definitions.schedule_definition import ScheduleExecutionData
from sqlalchemy import select

from opbox_dagster.definitions import build_definitions
from opbox_dagster.schedule_times import cron_expression
from opbox_dagster.sync.run_records import create_run
from resources.app_db.models import Connection, SyncRun
from resources.app_db.session import session_scope
from tests.triggers.conftest import AppDatabase

HOURLY = {"enabled": True, "frequency": "hourly"}
TICK = datetime(2026, 3, 2, 10, 17, tzinfo=timezone.utc)
STREAMS = ["contacts", "companies", "deals"]


def _evaluate(app_db: AppDatabase, at: datetime) -> ScheduleExecutionData:
    definitions = build_definitions(app_db.settings)
    (schedule,) = list(definitions.schedules)
    with build_schedule_context(scheduled_execution_time=at) as context:
        return schedule.evaluate_tick(context)


def _records(app_db: AppDatabase, connection_id: str) -> list[SyncRun]:
    with session_scope(app_db.settings.database_url) as session:
        return list(session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id).order_by(SyncRun.created_at)))


def _finish(app_db: AppDatabase, sync_run_id: str, status: str, created_at: datetime, dagster_run_id: str | None) -> None:
    with session_scope(app_db.settings.database_url) as session:
        run = session.get(SyncRun, sync_run_id)
        run.status = status
        run.active_connection_id = None
        run.created_at = created_at
        run.dagster_run_id = dagster_run_id


def test_only_scheduled_connections_get_schedules(app_db: AppDatabase) -> None:
    hourly = app_db.add_connection("Hourly CRM", schedule=HOURLY)
    app_db.add_connection("Manual CRM")
    app_db.add_connection("Paused CRM", schedule={"enabled": False, "frequency": "daily"})
    app_db.add_connection("Disabled CRM", schedule={"enabled": True, "frequency": "daily"}, enabled=False)

    schedules = list(build_definitions(app_db.settings).schedules)

    assert [schedule.name for schedule in schedules] == [f"schedule__{app_db.owner.workspace_slug}__hourly_crm"]
    assert schedules[0].cron_schedule == cron_expression(hourly, "hourly")
    assert schedules[0].execution_timezone == "UTC"
    assert schedules[0].default_status == DefaultScheduleStatus.RUNNING
    assert schedules[0].job_name == f"sync__{app_db.owner.workspace_slug}__hourly_crm"


def test_due_tick_creates_scheduled_record(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Hourly CRM", schedule=HOURLY)

    result = _evaluate(app_db, TICK)

    (request,) = result.run_requests or []
    (record,) = _records(app_db, connection_id)
    assert record.trigger == "SCHEDULED"
    assert record.status == "PENDING"
    assert record.streams == STREAMS
    assert request.run_key == record.id
    assert request.tags == {
        "opbox/connection_id": connection_id,
        "opbox/sync_run_id": record.id,
        "opbox/trigger": "SCHEDULED",
        "dagster/schedule_name": f"schedule__{app_db.owner.workspace_slug}__hourly_crm",
    }


def test_busy_connection_skips_tick(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Hourly CRM", schedule=HOURLY)
    manual = create_run(
        app_db.settings, connection_id=connection_id, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=STREAMS
    )

    result = _evaluate(app_db, TICK)

    assert not result.run_requests
    assert f"busy with sync run {manual}" in (result.skip_message or "")
    assert [record.id for record in _records(app_db, connection_id)] == [manual]


def test_recent_cron_run_skips_tick(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Hourly CRM", schedule=HOURLY)
    cron_run = create_run(
        app_db.settings, connection_id=connection_id, workspace_id=app_db.owner.workspace_id, trigger="CRON", streams=STREAMS
    )
    _finish(app_db, cron_run, "COMPLETED", TICK - timedelta(minutes=20), "dagster-run-1")

    early = _evaluate(app_db, TICK)
    later = _evaluate(app_db, TICK + timedelta(minutes=40))

    assert not early.run_requests
    assert "already had a scheduled or cron run" in (early.skip_message or "")
    assert len(later.run_requests or []) == 1


def test_record_that_never_reached_dagster_is_ignored(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Hourly CRM", schedule=HOURLY)
    lost = create_run(
        app_db.settings, connection_id=connection_id, workspace_id=app_db.owner.workspace_id, trigger="SCHEDULED", streams=STREAMS
    )
    _finish(app_db, lost, "FAILED", TICK - timedelta(minutes=1), None)

    result = _evaluate(app_db, TICK)

    assert len(result.run_requests or []) == 1


def test_connection_disabled_after_load_skips_tick(app_db: AppDatabase) -> None:
    connection_id = app_db.add_connection("Hourly CRM", schedule=HOURLY)
    definitions = build_definitions(app_db.settings)
    with session_scope(app_db.settings.database_url) as session:
        session.get(Connection, connection_id).enabled = False

    (schedule,) = list(definitions.schedules)
    with build_schedule_context(scheduled_execution_time=TICK) as context:
        result = schedule.evaluate_tick(context)

    assert not result.run_requests
    assert "disabled" in (result.skip_message or "")
    assert _records(app_db, connection_id) == []
