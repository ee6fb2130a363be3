"""Conversion of app models and connector declarations to the API's camelCase JSON.

Timestamps are ISO 8601 in UTC with milliseconds and a ``Z`` suffix (``2026-02-11T10:00:00.000Z``).
Connection JSON never contains credential values or webhook tokens: credentials appear only as
the names of the stored fields and a keyed fingerprint.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from connectors.base import ConfigField, CredentialField, HealthReport, StreamSpec
from connectors.registry import ConnectorType
from opbox_dagster.schedule_times import next_run_at, schedule_frequency
from resources.app_db.models import Connection, SyncRun


def format_timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connection_json(connection: Connection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "name": connection.name,
        "type": connection.type,
        "status": connection.status,
        "enabled": connection.enabled,
        "workspaceId": connection.workspace_id,
        "config": connection.config or {},
        "schedule": connection.schedule,
        "notifyUserIds": list(connection.notify_user_ids or []),
        "syncState": connection.sync_state or {"version": 0, "streams": {}},
        "variantGroupId": connection.variant_group_id,
        "variantLabel": connection.variant_label,
        "credentials": {
            "fields": list(connection.credential_fields or []),
            "fingerprint": connection.credentials_fingerprint,
        },
        "createdAt": format_timestamp(connection.created_at),
        "updatedAt": format_timestamp(connection.updated_at),
        "lastSyncedAt": format_timestamp(connection.last_synced_at),
        "nextRunAt": format_timestamp(next_scheduled_run(connection)),
    }


def next_scheduled_run(connection: Connection) -> datetime | None:
    """Return the next tick of the connection's schedule, or None when it is disabled or has no schedule on."""
    frequency = schedule_frequency(connection.enabled, connection.schedule)
    if frequency is None or connection.id is None:
        return None
    return next_run_at(connection.id, frequency, datetime.now(timezone.utc))


def run_json(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "startedAt": format_timestamp(run.started_at),
        "completedAt": format_timestamp(run.completed_at),
        "rowsSynced": run.rows_synced,
        "rowsCreated": run.rows_created,
        "rowsUpdated": run.rows_updated,
        "error": run.error,
        "streams": list(run.streams or []),
        "createdAt": format_timestamp(run.created_at),
    }


def run_details_json(run: SyncRun) -> dict[str, Any]:
    return {**run_json(run), "streamStats": run.stream_stats or {}}


def pagination_json(*, limit: int, offset: int, total: int) -> dict[str, Any]:
    return {"limit": limit, "offset": offset, "total": total, "hasMore": offset + limit < total}


def _credential_field_json(field: CredentialField) -> dict[str, Any]:
    return {
        "name": field.name,
        "type": field.type,
        "secret": field.secret,
        "required": field.required,
        "help": field.help,
    }


def _config_field_json(field: ConfigField) -> dict[str, Any]:
    return {
        "name": field.name,
        "type": field.type,
        "required": field.required,
        "default": field.default,
        "help": field.help,
    }


def _declared_stream_json(stream: StreamSpec) -> dict[str, Any]:
    return {
        "name": stream.name,
        "primaryKey": list(stream.primary_key),
        "cursorField": stream.cursor_field,
        "supportedSyncModes": list(stream.sync_modes),
    }


def connector_type_json(entry: ConnectorType) -> dict[str, Any]:
    """Describe a catalogue entry. A type this build cannot sync has empty field and stream lists."""
    description: dict[str, Any] = {
        "type": entry.type,
        "name": entry.name,
        "category": entry.category,
        "available": entry.available,
        "credentialFields": [],
        "configFields": [],
        "streams": [],
    }
    connector = entry.connector
    if connector is not None:
        description["credentialFields"] = [_credential_field_json(item) for item in connector.credential_fields]
        description["configFields"] = [_config_field_json(item) for item in connector.config_fields]
        description["streams"] = [_declared_stream_json(item) for item in connector.streams]
    return description


def discovered_stream_json(stream: StreamSpec) -> dict[str, Any]:
    return {
        "name": stream.name,
        "fields": [{"name": item.name, "type": item.type} for item in stream.fields],
        "supportedSyncModes": list(stream.sync_modes),
        "primaryKey": list(stream.primary_key),
        "cursorField": stream.cursor_field,
    }


def health_report_json(report: HealthReport, checked_at: datetime) -> dict[str, Any]:
    return {
        "healthy": report.healthy,
        "message": report.message,
        "latencyMs": report.latency_ms,
        "checkedAt": format_timestamp(checked_at),
    }
