"""The code location: assets, jobs, schedules and sensors for every connection.

Dagster imports this module in the webserver, the daemon and each run process; it reads the
connections from the app database each time, so a code-location reload picks up changes.
"""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from opbox_dagster.assets.connection_assets import build_connection_assets, stream_asset_key
from opbox_dagster.catalogue import ConnectionEntry, load_connection_entries
from opbox_dagster.naming import job_name
from opbox_dagster import tags
from opbox_dagster.schedules import build_schedules
from opbox_dagster.sensors import build_sensors
from connectors.registry import connector_class
from resources.settings import Settings, load_settings


def _connection_job(entry: ConnectionEntry):  # type: ignore[no-untyped-def]
    keys = [stream_asset_key(entry, stream.name) for stream in connector_class(entry.type).streams]
    return define_asset_job(
        name=job_name(entry.workspace_slug, entry.connection_slug),
        selection=AssetSelection.assets(*keys),
        executor_def=in_process_executor,
        tags={tags.CONNECTION_ID: entry.connection_id},
        description=f"Sync the streams of {entry.name}",
    )


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or load_settings()
    destination_kind = "duckdb" if settings.uses_duckdb else "postgres"
    entries = load_connection_entries(settings)
    jobs_by_connection = {entry.connection_id: _connection_job(entry) for entry in entries}
    jobs = list(jobs_by_connection.values())
    return Definitions(
        assets=[build_connection_assets(entry, destination_kind) for entry in entries],
        jobs=jobs,
        schedules=build_schedules(entries, jobs_by_connection),
        sensors=build_sensors(entries, jobs),
    )


defs = build_definitions()
