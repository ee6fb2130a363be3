"""The code location: assets, jobs, schedules and sensors for every connection.

Dagster imports this module in the webserver, the daemon and each run process; it reads the
connections from the app database each time, so a code-location reload picks up changes.
"""

from __future__ import annotations

import logging

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from connectors.registry import connector_class
from opbox_dagster import tags
from opbox_dagster.assets.connection_assets import build_connection_assets, stream_asset_key
from opbox_dagster.catalogue import ConnectionEntry, load_connection_entries
from opbox_dagster.naming import job_name
from opbox_dagster.schedules import build_schedules
from opbox_dagster.sensors import build_sensors
from resources.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def _connection_job(entry: ConnectionEntry):  # type: ignore[no-untyped-def]
    keys = [stream_asset_key(entry, stream.name) for stream in connector_class(entry.type).streams]
    return define_asset_job(
        name=job_name(entry.workspace_slug, entry.connection_slug),
        selection=AssetSelection.assets(*keys),
        executor_def=in_process_executor,
        tags={tags.CONNECTION_ID: entry.connection_id},
        description=f"Sync the streams of {entry.name}",
    )


def _buildable(entries: list[ConnectionEntry], destination_kind: str) -> list[ConnectionEntry]:
    """Return the entries whose assets build; one broken connection must not hide all the others."""
    usable = []
    for entry in entries:
        try:
            build_connection_assets(entry, destination_kind)
        except Exception:  # logged and skipped so the rest of the code location still loads
            logger.exception("connection %s was left out of the code location: its assets did not build", entry.connection_id)
            continue
        usable.append(entry)
    return usable


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or load_settings()
    destination_kind = "duckdb" if settings.uses_duckdb else "postgres"
    entries = _buildable(load_connection_entries(settings), destination_kind)
    jobs_by_connection = {entry.connection_id: _connection_job(entry) for entry in entries}
    jobs = list(jobs_by_connection.values())
    return Definitions(
        assets=[build_connection_assets(entry, destination_kind) for entry in entries],
        jobs=jobs,
        schedules=build_schedules(entries, jobs_by_connection),
        sensors=build_sensors(entries, jobs),
    )


defs = build_definitions()
