"""Sync runs of a connection: history, one run, manual trigger and stop."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api_gateway.auth import Caller, requires_role
from api_gateway.dagster_client import DagsterClient, DagsterUnavailable
from api_gateway.errors import ConnectionDisabled, RunNotActive, SyncInProgress
from api_gateway.serializers import pagination_json, run_details_json, run_json
from api_gateway.sync_launch import launch_sync, select_streams, target_of
from opbox_dagster.sync.run_records import ACTIVE_STATUSES, ConnectionBusy, fail_run
from resources.app_db.models import SyncRun
from resources.app_db.session import session_scope
from resources.services.connections import get_connection, reject_unknown_fields
from resources.services.errors import NotFound
from resources.settings import Settings

logger = logging.getLogger(__name__)

TRIGGER_FIELDS = ("streams",)

DEFAULT_RUNS_LIMIT = 50
MAX_RUNS_LIMIT = 200


class UnconfiguredDagster:
    """Launcher used when no Dagster webserver is configured.

    ``launch_sync`` still creates the run record, then marks it FAILED with this error, so the
    failed attempt shows in the run history.
    """

    def launch_run(self, job_name: str, asset_paths: list[list[str]], tags: dict[str, str]) -> str:
        raise DagsterUnavailable(
            "no Dagster webserver is configured, so syncs cannot run; set OPBOX_DAGSTER_URL and "
            "restart the gateway"
        )


def find_run(session: Session, caller: Caller, connection_id: str, run_id: str) -> SyncRun:
    run = session.scalar(
        select(SyncRun).where(
            SyncRun.id == run_id,
            SyncRun.connection_id == connection_id,
            SyncRun.workspace_id == caller.workspace_id,
        )
    )
    if run is None:
        raise NotFound(f"run {run_id} was not found for connection {connection_id}", runId=run_id)
    return run


def cancel_run(
    settings: Settings, dagster: DagsterClient | None, run_id: str, dagster_run_id: str | None, reason: str
) -> None:
    """Mark the run CANCELLED, then ask Dagster to stop its run. A Dagster failure is only logged.

    The record is cancelled first, so a Dagster run that keeps going cannot complete it or move
    its cursors.
    """
    logger.info("cancelling sync run %s: %s", run_id, reason)
    fail_run(settings, run_id, reason, status="CANCELLED")
    if dagster_run_id is None:
        return
    if dagster is None:
        logger.warning(
            "sync run %s was cancelled but no Dagster client is configured to stop Dagster run %s",
            run_id,
            dagster_run_id,
        )
        return
    try:
        dagster.terminate_run(dagster_run_id)
    except DagsterUnavailable as error:
        logger.warning(
            "sync run %s was cancelled but Dagster run %s was not stopped: %s", run_id, dagster_run_id, error
        )


def cancel_active_run(
    settings: Settings, dagster: DagsterClient | None, connection_id: str, reason: str
) -> None:
    with session_scope(settings.database_url) as session:
        run = session.scalar(select(SyncRun).where(SyncRun.active_connection_id == connection_id))
        if run is None:
            return
        run_id, dagster_run_id = run.id, run.dagster_run_id
    cancel_run(settings, dagster, run_id, dagster_run_id, reason)


def read_run_json(settings: Settings, run_id: str) -> dict[str, Any]:
    with session_scope(settings.database_url) as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise NotFound(f"run {run_id} was not found; its connection may have been deleted", runId=run_id)
        return run_json(run)


class RunsController(Controller):
    path = "/connections/{connection_id:str}/runs"
    tags = ["sync runs"]

    @get("/", guards=[requires_role("VIEWER")], sync_to_thread=True, summary="List sync runs, newest first")
    def list_runs(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_RUNS_LIMIT, description="Page size")
        ] = DEFAULT_RUNS_LIMIT,
        offset: Annotated[int, QueryParameter(ge=0, description="Number of runs to skip")] = 0,
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            get_connection(session, caller.workspace_id, connection_id)
            scope = (SyncRun.connection_id == connection_id, SyncRun.workspace_id == caller.workspace_id)
            total = session.scalar(select(func.count()).select_from(SyncRun).where(*scope)) or 0
            runs = session.scalars(
                select(SyncRun)
                .where(*scope)
                .order_by(SyncRun.created_at.desc(), SyncRun.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return {
                "runs": [run_json(run) for run in runs],
                "pagination": pagination_json(limit=limit, offset=offset, total=total),
            }

    @get("/{run_id:str}", guards=[requires_role("VIEWER")], sync_to_thread=True, summary="Get a sync run")
    def get_run(
        self,
        connection_id: FromPath[str],
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            get_connection(session, caller.workspace_id, connection_id)
            return run_details_json(find_run(session, caller, connection_id, run_id))

    @post(
        "/",
        guards=[requires_role("MEMBER")],
        status_code=201,
        sync_to_thread=True,
        summary="Trigger a sync run",
    )
    def trigger(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            if not connection.enabled:
                raise ConnectionDisabled(
                    f"connection {connection_id} is disabled; enable it with PUT "
                    '{"enabled": true} before triggering a sync',
                    connectionId=connection_id,
                )
            target = target_of(connection, caller.workspace_slug)
        reject_unknown_fields(payload, TRIGGER_FIELDS)
        streams = select_streams(target, payload.get("streams"))
        try:
            run_id = launch_sync(
                settings,
                dagster or UnconfiguredDagster(),
                target,
                trigger="MANUAL",
                streams=streams,
                triggered_by_user_id=caller.user_id,
            )
        except ConnectionBusy as error:
            raise SyncInProgress(
                f"connection {connection_id} already has an active sync run {error.active_run_id}; "
                "wait for it to finish or stop it first",
                activeRunId=error.active_run_id,
            ) from error
        return read_run_json(settings, run_id)

    @post(
        "/{run_id:str}",
        guards=[requires_role("MEMBER")],
        status_code=200,
        sync_to_thread=True,
        summary="Stop a sync run",
    )
    def stop(
        self,
        connection_id: FromPath[str],
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        with session_scope(settings.database_url) as session:
            get_connection(session, caller.workspace_id, connection_id)
            run = find_run(session, caller, connection_id, run_id)
            status, dagster_run_id = run.status, run.dagster_run_id
        if status in ACTIVE_STATUSES:
            cancel_run(settings, dagster, run_id, dagster_run_id, f"stopped by {caller.email}")
        run_body = read_run_json(settings, run_id)
        # The run may have finished on its own between the read above and the cancellation.
        if status not in ACTIVE_STATUSES or run_body["status"] != "CANCELLED":
            raise RunNotActive(
                f"run {run_id} is not active: it already ended with status {run_body['status']}",
                status=run_body["status"],
            )
        return {"success": True, "run": run_body}
