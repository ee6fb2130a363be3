"""Run records and Dagster run requests for the triggers that Dagster evaluates: schedules and webhooks.

The evaluation claims the connection's active-run slot by creating the PENDING record, then
returns a run request whose tags carry only ids. The asset step finds the record through the
``opbox/sync_run_id`` tag instead of creating a second one.
"""

from __future__ import annotations

from dagster import RunRequest

from connectors.registry import connector_class
from opbox_dagster import tags
from opbox_dagster.catalogue import ConnectionEntry
from opbox_dagster.naming import job_name
from opbox_dagster.sync.run_records import create_run
from resources.settings import Settings


def all_streams(entry: ConnectionEntry) -> list[str]:
    return [stream.name for stream in connector_class(entry.type).streams]


def claim_sync_run(settings: Settings, entry: ConnectionEntry, trigger: str) -> str:
    """Create the PENDING record of a sync of every stream, or raise ``ConnectionBusy`` when the connection has an active run."""
    return create_run(
        settings,
        connection_id=entry.connection_id,
        workspace_id=entry.workspace_id,
        trigger=trigger,
        streams=all_streams(entry),
    )


def sync_run_request(entry: ConnectionEntry, sync_run_id: str, trigger: str, run_key: str) -> RunRequest:
    return RunRequest(
        run_key=run_key,
        job_name=job_name(entry.workspace_slug, entry.connection_slug),
        tags={
            tags.CONNECTION_ID: entry.connection_id,
            tags.SYNC_RUN_ID: sync_run_id,
            tags.TRIGGER: trigger,
        },
    )
