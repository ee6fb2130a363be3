"""Sensors of the code location: webhook events become runs, and run records follow their Dagster runs."""

# Dagster inspects the context annotation at runtime, so annotations here are not postponed.

from collections.abc import Sequence
from datetime import datetime, timezone

from dagster import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SensorResult, SkipReason
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from opbox_dagster.catalogue import ConnectionEntry
from opbox_dagster.run_reconciliation import reconcile_active_runs
from opbox_dagster.sync_requests import sync_run_request
from opbox_dagster.webhook_dispatch import WEBHOOK_TRIGGER, DispatchSummary, dispatch_pending_events
from resources.settings import load_settings

WEBHOOK_SENSOR_NAME = "opbox_webhook_events"
RECONCILIATION_SENSOR_NAME = "opbox_run_reconciliation"
# Dagster 1.13's sensor daemon sleeps at least 5 s between loops, so evaluations come every 5 s or so.
WEBHOOK_INTERVAL_SECONDS = 2
RECONCILIATION_INTERVAL_SECONDS = 10


def _log_dispatch(context: SensorEvaluationContext, summary: DispatchSummary) -> None:
    for dispatch in summary.launched:
        context.log.info(
            f"sync run {dispatch.sync_run_id} of connection {dispatch.entry.connection_id} created for "
            f"{dispatch.event_count} webhook event(s)"
        )
    if summary.coalesced_events:
        context.log.info(f"{summary.coalesced_events} webhook event(s) coalesced into pending runs")
    if summary.skipped_events:
        context.log.warning(f"{summary.skipped_events} webhook event(s) skipped: connection deleted, disabled or not loaded")


def build_webhook_sensor(entries: Sequence[ConnectionEntry], jobs: Sequence[UnresolvedAssetJobDefinition]) -> SensorDefinition:
    entries_by_id = {entry.connection_id: entry for entry in entries}

    def evaluate(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        summary = dispatch_pending_events(load_settings(), entries_by_id)
        _log_dispatch(context, summary)
        if not summary.launched:
            waiting = len(summary.waiting_connections)
            return SkipReason(f"no webhook events to launch; {waiting} connection(s) wait for an active run to end")
        return SensorResult(
            run_requests=[
                sync_run_request(dispatch.entry, dispatch.sync_run_id, WEBHOOK_TRIGGER, dispatch.run_key)
                for dispatch in summary.launched
            ]
        )

    return SensorDefinition(
        name=WEBHOOK_SENSOR_NAME,
        evaluation_fn=evaluate,
        minimum_interval_seconds=WEBHOOK_INTERVAL_SECONDS,
        jobs=list(jobs) or None,
        default_status=DefaultSensorStatus.RUNNING,
        description="Start a sync for each connection with pending webhook deliveries",
    )


def build_reconciliation_sensor() -> SensorDefinition:
    def evaluate(context: SensorEvaluationContext) -> SkipReason:
        ended = reconcile_active_runs(load_settings(), context.instance, datetime.now(timezone.utc))
        for record, verdict in ended:
            context.log.warning(f"sync run {record.sync_run_id} marked {verdict.status}: {verdict.reason}")
        return SkipReason(f"{len(ended)} run record(s) ended" if ended else "every active run record has a live Dagster run")

    return SensorDefinition(
        name=RECONCILIATION_SENSOR_NAME,
        evaluation_fn=evaluate,
        minimum_interval_seconds=RECONCILIATION_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Fail run records whose Dagster run failed, was cancelled or never started",
    )


def build_sensors(entries: Sequence[ConnectionEntry], jobs: Sequence[UnresolvedAssetJobDefinition]) -> list[SensorDefinition]:
    return [build_webhook_sensor(entries, jobs), build_reconciliation_sensor()]
