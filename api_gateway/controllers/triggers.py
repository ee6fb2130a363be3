"""Triggers that start syncs of many connections, or without an API key: cron, run-all and webhooks.

``GET /cron`` authenticates with ``Authorization: Bearer <OPBOX_CRON_SECRET>``. Without that
setting the endpoint is disabled and returns 403 CRON_DISABLED, because the route exists but the
deployment has turned it off. ``POST /webhook/:token`` takes the token in the path as its only
credential and returns the same 404 for every unknown token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import select

from api_gateway.auth import Caller, requires_role
from api_gateway.controllers.runs import UnconfiguredDagster
from api_gateway.dagster_client import DagsterClient, DagsterUnavailable
from api_gateway.errors import ConnectionDisabled, Forbidden, Unauthorised
from api_gateway.rate_limits import too_many_requests, webhook_limiter
from api_gateway.sync_launch import LaunchTarget, RunLauncher, launch_sync, select_streams, target_of
from connectors.registry import CATALOGUE
from opbox_dagster.schedule_times import is_due, schedule_frequency
from opbox_dagster.scheduled_runs import last_scheduled_runs
from opbox_dagster.sync.run_records import ConnectionBusy
from resources.app_db.models import Connection, Workspace, utc_now
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret
from resources.services.errors import NotFound, ServiceError
from resources.services.webhooks import (
    MAX_TOKEN_CHARS,
    RecordedDelivery,
    delivery_key,
    find_connection_by_token,
    record_delivery,
)
from resources.settings import Settings

logger = logging.getLogger(__name__)

UNKNOWN_WEBHOOK_MESSAGE = "no webhook matches this URL; copy the connection's webhook URL again"


class CronDisabled(Forbidden):
    code = "CRON_DISABLED"


class BatchLaunchFailed(ServiceError):
    """Dagster became unreachable part-way through a batch. ``details.runIds`` lists the runs queued before."""

    status = 503
    code = "DAGSTER_UNAVAILABLE"


def check_cron_secret(settings: Settings, authorization: str | None) -> None:
    """Raise ``CronDisabled`` when no cron secret is set, and ``Unauthorised`` unless the header carries it."""
    if not settings.cron_secret:
        raise CronDisabled(
            "the cron endpoint is disabled because OPBOX_CRON_SECRET is not set; set it on the gateway "
            "and call GET /api/pipelines/cron with Authorization: Bearer <OPBOX_CRON_SECRET>"
        )
    scheme, _, secret = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(secret.strip().encode(), settings.cron_secret.encode()):
        raise Unauthorised("missing or invalid cron secret; send Authorization: Bearer <OPBOX_CRON_SECRET>")


def _available_types() -> set[str]:
    return {entry.type for entry in CATALOGUE if entry.available}


def scheduled_targets(settings: Settings) -> list[tuple[LaunchTarget, str]]:
    """Return every workspace's enabled connections whose schedule is on, with their frequency."""
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(Connection, Workspace.slug)
            .join(Workspace, Workspace.id == Connection.workspace_id)
            .where(Connection.enabled.is_(True), Connection.type.in_(_available_types()))
            .order_by(Connection.created_at, Connection.id)
        ).all()
        targets = []
        for connection, workspace_slug in rows:
            frequency = schedule_frequency(connection.enabled, connection.schedule)
            if frequency is not None:
                targets.append((target_of(connection, workspace_slug), frequency))
        return targets


def workspace_targets(settings: Settings, caller: Caller) -> list[LaunchTarget]:
    """Return the enabled connections of the caller's workspace that this build can sync."""
    with session_scope(settings.database_url) as session:
        connections = session.scalars(
            select(Connection)
            .where(
                Connection.workspace_id == caller.workspace_id,
                Connection.enabled.is_(True),
                Connection.type.in_(_available_types()),
            )
            .order_by(Connection.created_at, Connection.id)
        ).all()
        return [target_of(connection, caller.workspace_slug) for connection in connections]


def launch_each(
    settings: Settings,
    launcher: RunLauncher,
    targets: list[LaunchTarget],
    trigger: str,
    triggered_by_user_id: str | None = None,
) -> tuple[list[str], list[str]]:
    """Launch a sync of every stream of each target; return (run ids, ids of connections already busy)."""
    run_ids: list[str] = []
    busy: list[str] = []
    for target in targets:
        try:
            run_ids.append(
                launch_sync(
                    settings,
                    launcher,
                    target,
                    trigger=trigger,
                    streams=select_streams(target, None),
                    triggered_by_user_id=triggered_by_user_id,
                )
            )
        except ConnectionBusy:
            busy.append(target.connection_id)
        except DagsterUnavailable as error:
            raise BatchLaunchFailed(
                f"{error}; {len(run_ids)} sync(s) were queued before the failure. Retry when Dagster is reachable",
                runIds=run_ids,
            ) from error
    return run_ids, busy


def run_cron(settings: Settings, launcher: RunLauncher) -> dict[str, Any]:
    """Launch the scheduled connections whose period has elapsed since their last SCHEDULED or CRON run."""
    now = utc_now()
    targets = scheduled_targets(settings)
    with session_scope(settings.database_url) as session:
        last_runs = last_scheduled_runs(session, [target.connection_id for target, _ in targets])
    due = [target for target, frequency in targets if is_due(frequency, last_runs.get(target.connection_id), now)]
    run_ids, busy = launch_each(settings, launcher, due, "CRON")
    triggered = [target.connection_id for target in due if target.connection_id not in busy]
    logger.info(
        "cron: %d scheduled connection(s), %d triggered, %d not due, busy: %s",
        len(targets),
        len(run_ids),
        len(targets) - len(due),
        ", ".join(busy) or "none",
    )
    return {"triggered": len(triggered), "skipped": len(targets) - len(triggered), "connections": triggered}


def accept_delivery(
    settings: Settings, token: str, headers: Mapping[str, str], body: bytes, source_ip: str | None
) -> RecordedDelivery:
    """Store a webhook delivery for the sensor; raise ``NotFound`` for an unknown token, ``ConnectionDisabled`` when disabled."""
    received_at = utc_now()
    with session_scope(settings.database_url) as session:
        connection = find_connection_by_token(session, token)
        if connection is None:
            logger.info("webhook delivery from %s rejected: unknown token", source_ip)
            raise NotFound(UNKNOWN_WEBHOOK_MESSAGE)
        if not connection.enabled:
            logger.info("webhook delivery for connection %s rejected: the connection is disabled", connection.id)
            raise ConnectionDisabled(
                "this connection is disabled, so its webhook does not start syncs; enable the connection "
                'with PUT {"enabled": true}, then send the delivery again'
            )
    recorded = record_delivery(
        settings.database_url,
        connection,
        delivery_key(headers, body, received_at),
        received_at=received_at,
        source_ip=source_ip,
        body_bytes=len(body),
    )
    if recorded.duplicate:
        logger.info("webhook delivery for connection %s repeats event %s; not stored again", connection.id, recorded.event_id)
    else:
        logger.info("webhook delivery for connection %s stored as event %s", connection.id, recorded.event_id)
    return recorded


class TriggersController(Controller):
    path = "/"
    tags = ["sync runs"]

    @get(
        "/cron",
        opt={"exclude_from_auth": True},
        sync_to_thread=True,
        summary="Trigger scheduled syncs (cron endpoint)",
    )
    def cron(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        check_cron_secret(settings, request.headers.get("authorization"))
        return run_cron(settings, dagster or UnconfiguredDagster())

    @post(
        "/run-all",
        guards=[requires_role("ADMIN")],
        status_code=201,
        sync_to_thread=True,
        summary="Trigger a sync of every enabled connection in the workspace",
    )
    def run_all(
        self,
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        dagster: NamedDependency[DagsterClient | None],
    ) -> dict[str, Any]:
        targets = workspace_targets(settings, caller)
        run_ids, busy = launch_each(settings, dagster or UnconfiguredDagster(), targets, "RUN_ALL", caller.user_id)
        logger.info(
            "run-all by user %s in workspace %s: %d queued, busy: %s",
            caller.user_id,
            caller.workspace_slug,
            len(run_ids),
            ", ".join(busy) or "none",
        )
        return {
            "runIds": run_ids,
            "count": len(run_ids),
            "message": f"Enqueued {len(run_ids)} sync(s), {len(busy)} already in progress",
        }

    @post(
        "/webhook/{token:str}",
        opt={"exclude_from_auth": True},
        status_code=202,
        summary="Trigger a sync from a webhook delivery",
    )
    async def webhook(
        self,
        token: FromPath[str],
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise NotFound(UNKNOWN_WEBHOOK_MESSAGE)
        # Counted per token hash before the lookup, so known and unknown tokens are limited alike.
        retry_after = webhook_limiter.check(hash_secret(token))
        if retry_after is not None:
            raise too_many_requests(retry_after)
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        source_ip = request.client.host if request.client else None
        await anyio.to_thread.run_sync(accept_delivery, settings, token, headers, body, source_ip)
        return {"success": True, "message": "Sync triggered"}
