"""The last scheduled run of each connection, which the Dagster schedules and the cron endpoint share.

Both SCHEDULED runs (from a Dagster schedule) and CRON runs (from ``GET /api/pipelines/cron``)
count, so the two triggers never start the same connection twice in one period.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session

from resources.app_db.models import SyncRun

SCHEDULE_TRIGGERS = ("SCHEDULED", "CRON")


def last_scheduled_runs(session: Session, connection_ids: Iterable[str]) -> dict[str, datetime]:
    """Return when each connection's newest SCHEDULED or CRON run record was created.

    A record that failed before Dagster ever ran it (FAILED with no Dagster run id, as when Dagster
    was unreachable) does not count, so the next tick or cron call tries again.
    """
    ids = list(connection_ids)
    if not ids:
        return {}
    never_ran = and_(SyncRun.status == "FAILED", SyncRun.dagster_run_id.is_(None))
    rows = session.execute(
        select(SyncRun.connection_id, func.max(SyncRun.created_at))
        .where(SyncRun.connection_id.in_(ids), SyncRun.trigger.in_(SCHEDULE_TRIGGERS), not_(never_ran))
        .group_by(SyncRun.connection_id)
    ).all()
    return {connection_id: _aware(created_at) for connection_id, created_at in rows if created_at is not None}


def _aware(value: datetime) -> datetime:
    # The app database stores UTC, and SQLite returns it without a zone.
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
