"""Reset or set a connection's sync cursors (the only cursor truth, in ``sync_state``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from connectors.registry import connector_class
from resources.app_db.models import Connection
from resources.instants import format_instant, parse_instant
from resources.services.errors import ValidationFailed

# The contract's default stream is the meetings connector's; other connectors must name one.
DEFAULT_STREAM = "transcripts"


@dataclass(frozen=True)
class CursorChange:
    stream: str
    cursor: str | None
    sync_state: dict[str, Any]
    message: str


def _valid_streams(connection: Connection) -> list[str]:
    return [stream.name for stream in connector_class(connection.type).streams]


def parse_cursor_reset(connection: Connection, payload: dict[str, Any]) -> tuple[str, str | None]:
    """Return ``(stream, cursor)`` from a reset body, or raise naming the field and the valid streams."""
    valid = _valid_streams(connection)
    listed = ", ".join(valid)
    unknown = sorted(set(payload) - {"stream", "cursor"})
    if unknown:
        raise ValidationFailed(f"{unknown[0]} is not a field of a cursor reset; send stream and cursor", field=unknown[0])
    if "cursor" not in payload:
        raise ValidationFailed(
            "cursor is required: an ISO 8601 date-time, or null to clear every cursor", field="cursor", validStreams=valid
        )
    stream = payload.get("stream", DEFAULT_STREAM)
    if not isinstance(stream, str) or stream not in valid:
        shown = "omitted, so it defaults to 'transcripts'" if "stream" not in payload else f"{stream!r}"
        raise ValidationFailed(
            f"stream is {shown}, which this {connection.type} connection does not have; valid streams: {listed}",
            field="stream",
            validStreams=valid,
        )
    cursor = payload["cursor"]
    if cursor is None:
        return stream, None
    if not isinstance(cursor, str):
        raise ValidationFailed("cursor must be an ISO 8601 date-time string or null", field="cursor", validStreams=valid)
    try:
        instant = parse_instant(cursor)
    except ValueError as error:
        raise ValidationFailed(f"cursor {error}; valid streams: {listed}", field="cursor", validStreams=valid) from None
    return stream, format_instant(instant)


def apply_cursor_reset(session: Session, connection: Connection, stream: str, cursor: str | None) -> CursorChange:
    """Write the new cursors; the state's version grows by one on every change."""
    state = dict(connection.sync_state or {"version": 0, "streams": {}})
    streams = {name: dict(value) for name, value in (state.get("streams") or {}).items()}
    if cursor is None:
        streams = {}
        message = "Sync cursor cleared - next sync will be a full resync"
    else:
        streams[stream] = {"cursor": cursor}
        message = f'Sync cursor set to {cursor} for stream "{stream}"'
    new_state = {"version": int(state.get("version", 0)) + 1, "streams": streams}
    connection.sync_state = new_state
    session.flush()
    return CursorChange(stream, cursor, new_state, message)
