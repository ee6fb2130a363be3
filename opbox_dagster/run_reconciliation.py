"""Reconcile active run records with their Dagster runs, so a run whose process died frees its connection.

A run worker that is killed never marks its record, so the record would keep the connection's
active-run slot. Dagster notices the dead process and marks its run FAILURE; this module then
fails the record with a reason and clears the slot. It reads only records that are PENDING or
RUNNING, and queries Dagster only for their runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from sqlalchemy import select

from opbox_dagster import tags
from opbox_dagster.sync.run_records import ACTIVE_STATUSES, fail_run, set_dagster_run_id
from resources.app_db.models import SyncRun
from resources.app_db.session import session_scope
from resources.settings import Settings

# A trigger creates the record first and its Dagster run a moment later, so a record without a
# Dagster run is failed only after this long.
MISSING_RUN_GRACE = timedelta(minutes=2)
# Words that mark the engine event in which Dagster 1.13's code server reports an exited run process.
PROCESS_EXIT_MARKER = "Run execution process for"


@dataclass(frozen=True)
class ActiveRecord:
    sync_run_id: str
    dagster_run_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str


def judge(record: ActiveRecord, run: DagsterRun | None, now: datetime) -> Verdict | None:
    """Return how to end an active record given its Dagster run, or None while the run may still finish it."""
    if run is None:
        if now - record.created_at < MISSING_RUN_GRACE:
            return None
        return Verdict(
            "FAILED",
            f"no Dagster run was started for this sync within {int(MISSING_RUN_GRACE.total_seconds())} s; trigger the sync again",
        )
    if run.status == DagsterRunStatus.FAILURE:
        return Verdict("FAILED", f"the run stopped before the sync finished (Dagster run {run.run_id} failed)")
    if run.status == DagsterRunStatus.CANCELED:
        return Verdict("CANCELLED", f"the Dagster run {run.run_id} was cancelled before the sync finished")
    if run.status == DagsterRunStatus.SUCCESS:
        return Verdict("FAILED", f"the Dagster run {run.run_id} ended without completing this sync")
    return None


def active_records(settings: Settings) -> list[ActiveRecord]:
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(SyncRun.id, SyncRun.dagster_run_id, SyncRun.created_at).where(SyncRun.status.in_(ACTIVE_STATUSES))
        ).all()
    return [ActiveRecord(sync_run_id, dagster_run_id, created_at) for sync_run_id, dagster_run_id, created_at in rows]


def dagster_runs_of(instance: DagsterInstance, records: list[ActiveRecord]) -> dict[str, DagsterRun]:
    """Return the Dagster run of each record, found by its run id or else by its ``opbox/sync_run_id`` tag."""
    runs: dict[str, DagsterRun] = {}
    by_run_id = {record.dagster_run_id: record.sync_run_id for record in records if record.dagster_run_id}
    if by_run_id:
        for run in instance.get_runs(RunsFilter(run_ids=list(by_run_id))):
            runs[by_run_id[run.run_id]] = run
    untracked = [record.sync_run_id for record in records if not record.dagster_run_id]
    if untracked:
        for run in instance.get_runs(RunsFilter(tags={tags.SYNC_RUN_ID: untracked})):
            runs[run.tags[tags.SYNC_RUN_ID]] = run
    return runs


def process_exit_note(instance: DagsterInstance, run_id: str) -> str | None:
    """Return the first sentence of Dagster's report of an exited run process, when there is one."""
    for record in reversed(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        message = record.message or ""
        start = message.find(PROCESS_EXIT_MARKER)
        if start >= 0:
            return message[start:].split(". ")[0].rstrip(".") + "."
    return None


def reconcile_active_runs(settings: Settings, instance: DagsterInstance, now: datetime) -> list[tuple[ActiveRecord, Verdict]]:
    """End every active record whose Dagster run ended or never appeared, and return what was ended and why."""
    records = active_records(settings)
    if not records:
        return []
    runs = dagster_runs_of(instance, records)
    ended = []
    for record in records:
        run = runs.get(record.sync_run_id)
        if run is not None and record.dagster_run_id is None:
            # Schedules and the webhook sensor create records before Dagster creates their runs. With
            # the run id stored, stopping such a run also stops its Dagster run.
            set_dagster_run_id(settings, record.sync_run_id, run.run_id)
        verdict = judge(record, run, now)
        if verdict is None:
            continue
        reason = verdict.reason
        if run is not None:
            note = process_exit_note(instance, run.run_id) if run.status == DagsterRunStatus.FAILURE else None
            reason = f"{reason}: {note}" if note else reason
        # fail_run changes only a record that is still active, so a run that completed meanwhile stays COMPLETED.
        fail_run(settings, record.sync_run_id, reason, status=verdict.status)
        if _status_of(settings, record.sync_run_id) == verdict.status:
            ended.append((record, Verdict(verdict.status, reason)))
    return ended


def _status_of(settings: Settings, sync_run_id: str) -> str | None:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(SyncRun.status).where(SyncRun.id == sync_run_id))
