"""Sync run records in the app database and the one transaction that completes a run.

A run's cursors move only in ``complete_run``, which also marks the run COMPLETED; a run that was
cancelled or failed meanwhile is left as it is and its cursors stay put.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from resources.app_db.models import Connection, SyncRun, utc_now
from resources.app_db.session import session_scope
from resources.instants import format_instant, parse_instant
from resources.settings import Settings

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = ("PENDING", "RUNNING")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class StreamOutcome:
    stream: str
    table_name: str
    rows_synced: int
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_deleted: int
    warnings: list[str]
    cursor: datetime | None

    def as_stats(self) -> dict[str, Any]:
        return {
            "tableName": self.table_name,
            "rowsSynced": self.rows_synced,
            "rowsCreated": self.rows_created,
            "rowsUpdated": self.rows_updated,
            "rowsUnchanged": self.rows_unchanged,
            "rowsDeleted": self.rows_deleted,
            "warnings": len(self.warnings),
            "cursor": format_instant(self.cursor) if self.cursor else None,
        }


class ConnectionBusy(Exception):
    """The connection already has a PENDING or RUNNING run."""

    def __init__(self, connection_id: str, active_run_id: str | None) -> None:
        super().__init__(f"connection {connection_id} already has an active sync run {active_run_id}")
        self.connection_id = connection_id
        self.active_run_id = active_run_id


def active_run_id(settings: Settings, connection_id: str) -> str | None:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(SyncRun.id).where(SyncRun.active_connection_id == connection_id))


def create_run(
    settings: Settings,
    *,
    connection_id: str,
    workspace_id: str,
    trigger: str,
    streams: list[str],
    dagster_run_id: str | None = None,
    triggered_by_user_id: str | None = None,
) -> str:
    """Insert a PENDING run, or raise ``ConnectionBusy`` when the connection has an active one."""
    try:
        return _insert_run(
            settings, connection_id, workspace_id, trigger, streams, dagster_run_id, triggered_by_user_id
        )
    except IntegrityError:
        raise ConnectionBusy(connection_id, active_run_id(settings, connection_id)) from None


def _insert_run(
    settings: Settings,
    connection_id: str,
    workspace_id: str,
    trigger: str,
    streams: list[str],
    dagster_run_id: str | None,
    triggered_by_user_id: str | None,
) -> str:
    with session_scope(settings.database_url) as session:
        run = SyncRun(
            connection_id=connection_id,
            workspace_id=workspace_id,
            trigger=trigger,
            streams=streams,
            dagster_run_id=dagster_run_id,
            active_connection_id=connection_id,
            triggered_by_user_id=triggered_by_user_id,
        )
        session.add(run)
        session.flush()
        return run.id


def start_run(settings: Settings, sync_run_id: str, dagster_run_id: str) -> bool:
    """Mark the run RUNNING; return False when it was already stopped, so the run must not proceed."""
    with session_scope(settings.database_url) as session:
        run = session.get(SyncRun, sync_run_id, with_for_update=True)
        if run is None or run.status not in ACTIVE_STATUSES:
            return False
        run.status = "RUNNING"
        run.started_at = run.started_at or utc_now()
        run.dagster_run_id = dagster_run_id
        return True


def complete_run(settings: Settings, sync_run_id: str, outcomes: list[StreamOutcome]) -> bool:
    """Mark the run COMPLETED and advance its streams' cursors in one transaction."""
    with session_scope(settings.database_url) as session:
        run = session.get(SyncRun, sync_run_id, with_for_update=True)
        if run is None or run.status != "RUNNING":
            logger.warning(
                "sync run %s finished loading but is %s; its cursors were not moved",
                sync_run_id,
                run.status if run else "deleted",
            )
            return False
        connection = session.get(Connection, run.connection_id, with_for_update=True)
        now = utc_now()
        run.status = "COMPLETED"
        run.active_connection_id = None
        run.completed_at = now
        run.rows_synced = sum(item.rows_synced for item in outcomes)
        run.rows_created = sum(item.rows_created for item in outcomes)
        run.rows_updated = sum(item.rows_updated for item in outcomes)
        run.warnings_count = sum(len(item.warnings) for item in outcomes)
        run.stream_stats = {item.stream: item.as_stats() for item in outcomes}
        if connection is not None:
            state = dict(connection.sync_state or {"version": 0, "streams": {}})
            streams = {name: dict(value) for name, value in (state.get("streams") or {}).items()}
            changed = False
            for item in outcomes:
                if item.cursor is None:
                    continue
                saved = streams.get(item.stream, {}).get("cursor")
                saved_instant = parse_instant(saved) if saved else None
                if saved_instant is None or item.cursor > saved_instant:
                    streams[item.stream] = {"cursor": format_instant(item.cursor)}
                    changed = True
            if changed:
                connection.sync_state = {"version": int(state.get("version", 0)) + 1, "streams": streams}
            connection.last_synced_at = now
            connection.status = "CONNECTED"
        return True


def fail_run(settings: Settings, sync_run_id: str, message: str, *, status: str = "FAILED") -> None:
    """Mark an active run FAILED or CANCELLED with a message that contains no secret."""
    with session_scope(settings.database_url) as session:
        run = session.get(SyncRun, sync_run_id, with_for_update=True)
        if run is None or run.status not in ACTIVE_STATUSES:
            return
        run.status = status
        run.active_connection_id = None
        run.completed_at = utc_now()
        run.error = message[:MAX_ERROR_CHARS]


def set_dagster_run_id(settings: Settings, sync_run_id: str, dagster_run_id: str) -> None:
    with session_scope(settings.database_url) as session:
        run = session.get(SyncRun, sync_run_id)
        if run is not None and run.dagster_run_id is None:
            run.dagster_run_id = dagster_run_id


def find_run_by_dagster_id(settings: Settings, dagster_run_id: str) -> str | None:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(SyncRun.id).where(SyncRun.dagster_run_id == dagster_run_id))
