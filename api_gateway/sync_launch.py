"""Turn a trigger into exactly one run record and one queued Dagster run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from connectors.registry import connector_class
from opbox_dagster import tags
from opbox_dagster.naming import job_name
from opbox_dagster.sync.run_records import create_run, fail_run, set_dagster_run_id
from resources.app_db.models import Connection
from resources.services.errors import ValidationFailed
from resources.settings import Settings

logger = logging.getLogger(__name__)

TRIGGERS = ("MANUAL", "SCHEDULED", "WEBHOOK", "RUN_ALL", "CRON")


class RunLauncher(Protocol):
    def launch_run(self, job_name: str, asset_paths: list[list[str]], tags: dict[str, str]) -> str: ...


@dataclass(frozen=True)
class LaunchTarget:
    connection_id: str
    workspace_id: str
    workspace_slug: str
    connection_slug: str
    type: str


def target_of(connection: Connection, workspace_slug: str) -> LaunchTarget:
    return LaunchTarget(connection.id, connection.workspace_id, workspace_slug, connection.slug, connection.type)


def select_streams(target: LaunchTarget, requested: object) -> list[str]:
    """Return the streams to sync: all when none are named, else the named ones after checking them."""
    available = [stream.name for stream in connector_class(target.type).streams]
    if requested is None:
        return available
    if not isinstance(requested, list) or not requested or not all(isinstance(item, str) for item in requested):
        raise ValidationFailed(
            f"streams must be a non-empty array of stream names; valid streams: {', '.join(available)}",
            field="streams",
        )
    unknown = [item for item in requested if item not in available]
    if unknown:
        raise ValidationFailed(
            f"unknown stream {unknown[0]!r}; valid streams: {', '.join(available)}",
            field="streams",
            validStreams=available,
        )
    return list(dict.fromkeys(requested))


def launch_sync(
    settings: Settings,
    launcher: RunLauncher,
    target: LaunchTarget,
    *,
    trigger: str,
    streams: list[str],
    triggered_by_user_id: str | None = None,
) -> str:
    """Create the PENDING run record, then enqueue the Dagster run; return the record id.

    Raises ``ConnectionBusy`` when the connection already has an active run. When Dagster cannot
    be reached the record is marked FAILED, so the connection is free to sync again.
    """
    sync_run_id = create_run(
        settings,
        connection_id=target.connection_id,
        workspace_id=target.workspace_id,
        trigger=trigger,
        streams=streams,
        triggered_by_user_id=triggered_by_user_id,
    )
    run_tags = {
        tags.CONNECTION_ID: target.connection_id,
        tags.SYNC_RUN_ID: sync_run_id,
        tags.TRIGGER: trigger,
    }
    paths = [[target.workspace_slug, target.connection_slug, stream] for stream in streams]
    try:
        dagster_run_id = launcher.launch_run(job_name(target.workspace_slug, target.connection_slug), paths, run_tags)
    except Exception as error:
        # The record must not stay PENDING, or the connection could never sync again.
        fail_run(settings, sync_run_id, f"the run could not be queued in Dagster: {error}")
        raise
    set_dagster_run_id(settings, sync_run_id, dagster_run_id)
    logger.info("sync run %s of connection %s queued as Dagster run %s (%s)", sync_run_id, target.connection_id, dagster_run_id, trigger)
    return sync_run_id
