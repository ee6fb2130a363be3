"""One Dagster schedule per scheduled connection, firing at the connection's spread start time.

Each evaluation reads the connection again from the app database. A schedule that the daemon
still runs from before an update therefore cannot start a connection that was disabled since. An
evaluation also skips a connection that already had a SCHEDULED or CRON run in the current period,
or that has an active run.
"""

# Dagster inspects the context annotation at runtime, so annotations here are not postponed.

from collections.abc import Mapping
from datetime import datetime, timezone

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from opbox_dagster import tags
from opbox_dagster.catalogue import ConnectionEntry
from opbox_dagster.schedule_times import cron_expression, is_due, schedule_frequency
from opbox_dagster.scheduled_runs import last_scheduled_runs
from opbox_dagster.sync.run_records import ConnectionBusy
from opbox_dagster.sync_requests import claim_sync_run, sync_run_request
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.settings import Settings, load_settings

SCHEDULE_TIMEZONE = "UTC"
SCHEDULED_TRIGGER = "SCHEDULED"


def schedule_name(entry: ConnectionEntry) -> str:
    return f"schedule__{entry.workspace_slug}__{entry.connection_slug}"


def evaluate_schedule(settings: Settings, entry: ConnectionEntry, scheduled_at: datetime) -> RunRequest | SkipReason:
    """Claim a SCHEDULED run record and return its run request, or the reason this tick is skipped."""
    connection_id = entry.connection_id
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            return SkipReason(f"connection {connection_id} was deleted")
        frequency = schedule_frequency(connection.enabled, connection.schedule)
        if frequency is None:
            return SkipReason(f"connection {connection_id} is disabled or its schedule is turned off")
        last_run_at = last_scheduled_runs(session, [connection_id]).get(connection_id)

    if not is_due(frequency, last_run_at, scheduled_at):
        assert last_run_at is not None
        return SkipReason(
            f"connection {connection_id} already had a scheduled or cron run at {last_run_at.isoformat()}, "
            f"less than one {frequency} period before this tick"
        )
    try:
        sync_run_id = claim_sync_run(settings, entry, SCHEDULED_TRIGGER)
    except ConnectionBusy as busy:
        return SkipReason(f"connection {connection_id} is busy with sync run {busy.active_run_id}, so this tick is skipped")
    return sync_run_request(entry, sync_run_id, SCHEDULED_TRIGGER, run_key=sync_run_id)


def _connection_schedule(entry: ConnectionEntry, frequency: str, job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    def evaluate(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        scheduled_at = context.scheduled_execution_time or datetime.now(timezone.utc)
        result = evaluate_schedule(load_settings(), entry, scheduled_at)
        if isinstance(result, RunRequest):
            context.log.info(
                f"sync run {result.tags[tags.SYNC_RUN_ID]} of connection {entry.connection_id} created for the tick at {scheduled_at.isoformat()}"
            )
        return result

    return ScheduleDefinition(
        name=schedule_name(entry),
        cron_schedule=cron_expression(entry.connection_id, frequency),
        job=job,
        execution_fn=evaluate,
        execution_timezone=SCHEDULE_TIMEZONE,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"{frequency.capitalize()} sync of {entry.name}",
    )


def build_schedules(
    entries: list[ConnectionEntry], jobs_by_connection: Mapping[str, UnresolvedAssetJobDefinition]
) -> list[ScheduleDefinition]:
    """Return a running schedule for every enabled connection whose schedule is on."""
    schedules = []
    for entry in entries:
        frequency = schedule_frequency(entry.enabled, entry.schedule)
        job = jobs_by_connection.get(entry.connection_id)
        if frequency is not None and job is not None:
            schedules.append(_connection_schedule(entry, frequency, job))
    return schedules
