"""Reconciliation of active run records with Dagster runs that ended or never appeared."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from opbox_dagster.run_reconciliation import MISSING_RUN_GRACE, ActiveRecord, judge, reconcile_active_runs
from opbox_dagster.sync.run_records import create_run, set_dagster_run_id, start_run
from resources.app_db.models import SyncRun
from resources.app_db.session import session_scope
from tests.triggers.conftest import AppDatabase

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
STREAMS = ["contacts"]


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def _run(status: DagsterRunStatus, sync_run_id: str = "s1") -> DagsterRun:
    return DagsterRun(job_name="sync__main__crm", run_id=f"run-{sync_run_id}", status=status, tags={"opbox/sync_run_id": sync_run_id})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(DagsterRunStatus.NOT_STARTED, None, id="not-started"),
        pytest.param(DagsterRunStatus.STARTING, None, id="starting"),
        pytest.param(DagsterRunStatus.STARTED, None, id="started"),
        pytest.param(DagsterRunStatus.CANCELING, None, id="canceling"),
        pytest.param(DagsterRunStatus.FAILURE, "FAILED", id="failure"),
        pytest.param(DagsterRunStatus.CANCELED, "CANCELLED", id="canceled"),
        pytest.param(DagsterRunStatus.SUCCESS, "FAILED", id="success-without-completion"),
    ],
)
def test_judge_by_dagster_status(status: DagsterRunStatus, expected: str | None) -> None:
    record = ActiveRecord("s1", "run-s1", NOW)

    verdict = judge(record, _run(status), NOW)

    assert (verdict.status if verdict else None) == expected


def test_judge_missing_run_waits_for_grace() -> None:
    fresh = ActiveRecord("s1", None, NOW - MISSING_RUN_GRACE + timedelta(seconds=5))
    stale = ActiveRecord("s1", None, NOW - MISSING_RUN_GRACE - timedelta(seconds=5))

    assert judge(fresh, None, NOW) is None
    verdict = judge(stale, None, NOW)
    assert verdict is not None
    assert verdict.status == "FAILED"
    assert "trigger the sync again" in verdict.reason


def _status(app_db: AppDatabase, sync_run_id: str) -> tuple[str, str | None, str | None]:
    with session_scope(app_db.settings.database_url) as session:
        run = session.get(SyncRun, sync_run_id)
        return run.status, run.active_connection_id, run.dagster_run_id


def test_reconcile_frees_connections(app_db: AppDatabase, instance: DagsterInstance) -> None:
    dead = app_db.add_connection("Dead CRM")
    live = app_db.add_connection("Live CRM")
    queued = app_db.add_connection("Queued CRM")
    waiting = app_db.add_connection("Waiting CRM")
    dead_run = create_run(app_db.settings, connection_id=dead, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=STREAMS)
    live_run = create_run(app_db.settings, connection_id=live, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=STREAMS)
    queued_run = create_run(app_db.settings, connection_id=queued, workspace_id=app_db.owner.workspace_id, trigger="SCHEDULED", streams=STREAMS)
    waiting_run = create_run(app_db.settings, connection_id=waiting, workspace_id=app_db.owner.workspace_id, trigger="WEBHOOK", streams=STREAMS)
    start_run(app_db.settings, dead_run, f"run-{dead_run}")
    set_dagster_run_id(app_db.settings, live_run, f"run-{live_run}")
    instance.add_run(_run(DagsterRunStatus.FAILURE, dead_run))
    instance.add_run(_run(DagsterRunStatus.STARTED, live_run))
    instance.add_run(_run(DagsterRunStatus.CANCELED, queued_run))
    instance.add_run(_run(DagsterRunStatus.NOT_STARTED, waiting_run))

    ended = reconcile_active_runs(app_db.settings, instance, datetime.now(timezone.utc))

    assert sorted((record.sync_run_id, verdict.status) for record, verdict in ended) == sorted(
        [(dead_run, "FAILED"), (queued_run, "CANCELLED")]
    )
    assert _status(app_db, dead_run) == ("FAILED", None, f"run-{dead_run}")
    assert _status(app_db, live_run) == ("PENDING", live, f"run-{live_run}")
    assert _status(app_db, queued_run) == ("CANCELLED", None, f"run-{queued_run}")
    assert _status(app_db, waiting_run) == ("PENDING", waiting, f"run-{waiting_run}")
    again = create_run(app_db.settings, connection_id=dead, workspace_id=app_db.owner.workspace_id, trigger="MANUAL", streams=STREAMS)
    assert _status(app_db, again)[0] == "PENDING"


def test_reconcile_without_active_records_reads_nothing(app_db: AppDatabase) -> None:
    class NoInstance:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"Dagster was queried ({name}) although no record is active")

    assert reconcile_active_runs(app_db.settings, NoInstance(), NOW) == []  # type: ignore[arg-type]
