"""Turn PENDING webhook events into WEBHOOK sync runs, one run per connection at a time.

For each connection with pending events, oldest first:

- connection deleted, disabled or without a job in this code location: the events become SKIPPED;
- no active run: a run record is created, the oldest event becomes LAUNCHED and the others
  COALESCED into that run;
- an active run that is still PENDING and covers every stream: the events become COALESCED into
  it, because that run has not read from the provider yet;
- any other active run: the events stay PENDING and become one follow-up run after it ends, so a
  burst during a run adds at most one more run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from opbox_dagster.catalogue import ConnectionEntry
from opbox_dagster.sync.run_records import ConnectionBusy
from opbox_dagster.sync_requests import all_streams, claim_sync_run
from resources.app_db.models import Connection, SyncRun
from resources.app_db.session import session_scope
from resources.services.webhooks import COALESCED, LAUNCHED, SKIPPED, mark_events, pending_events
from resources.settings import Settings

WEBHOOK_TRIGGER = "WEBHOOK"
# Events read per sensor tick. The rest wait for the next tick.
MAX_EVENTS_PER_TICK = 1000


@dataclass(frozen=True)
class Dispatch:
    """A run record created for webhook events, waiting for its Dagster run."""

    entry: ConnectionEntry
    sync_run_id: str
    run_key: str
    event_count: int


@dataclass
class DispatchSummary:
    launched: list[Dispatch] = field(default_factory=list)
    coalesced_events: int = 0
    skipped_events: int = 0
    waiting_connections: list[str] = field(default_factory=list)


def _coalesce_into_active(database_url: str, entry: ConnectionEntry, event_ids: list[str]) -> str | None:
    """Return "skipped", "coalesced" or "waiting" when the events cannot start a run now, else None."""
    with session_scope(database_url) as session:
        connection = session.get(Connection, entry.connection_id)
        if connection is None or not connection.enabled:
            mark_events(session, event_ids, SKIPPED, None)
            return "skipped"
        active = session.scalar(select(SyncRun).where(SyncRun.active_connection_id == entry.connection_id))
        if active is None:
            return None
        if active.status == "PENDING" and set(all_streams(entry)) <= set(active.streams or []):
            mark_events(session, event_ids, COALESCED, active.id)
            return "coalesced"
        return "waiting"


# NOTE: the events are marked before Dagster creates the run. When Dagster cannot create it, the
# reconciliation sensor fails the record after MISSING_RUN_GRACE, and the events stay LAUNCHED
# without a retry, so the provider's change waits for the next delivery or sync.
def _launch(settings: Settings, entry: ConnectionEntry, event_ids: list[str]) -> Dispatch | None:
    try:
        sync_run_id = claim_sync_run(settings, entry, WEBHOOK_TRIGGER)
    except ConnectionBusy:
        # Another trigger took the slot since the check, so the events wait for the next tick.
        return None
    with session_scope(settings.database_url) as session:
        mark_events(session, event_ids[:1], LAUNCHED, sync_run_id)
        mark_events(session, event_ids[1:], COALESCED, sync_run_id)
    # Keyed by the launching event's id, so Dagster drops a repeated request for the same event.
    return Dispatch(entry, sync_run_id, run_key=f"webhook-{event_ids[0]}", event_count=len(event_ids))


def dispatch_pending_events(settings: Settings, entries_by_id: Mapping[str, ConnectionEntry]) -> DispatchSummary:
    """Handle every connection's PENDING events and return the runs to request from Dagster."""
    summary = DispatchSummary()
    with session_scope(settings.database_url) as session:
        pending = pending_events(session, MAX_EVENTS_PER_TICK)
    for connection_id, event_ids in pending.items():
        entry = entries_by_id.get(connection_id)
        if entry is None:
            with session_scope(settings.database_url) as session:
                summary.skipped_events += mark_events(session, event_ids, SKIPPED, None)
            continue
        outcome = _coalesce_into_active(settings.database_url, entry, event_ids)
        if outcome == "skipped":
            summary.skipped_events += len(event_ids)
        elif outcome == "coalesced":
            summary.coalesced_events += len(event_ids)
        elif outcome == "waiting":
            summary.waiting_connections.append(connection_id)
        else:
            dispatch = _launch(settings, entry, event_ids)
            if dispatch is None:
                summary.waiting_connections.append(connection_id)
            else:
                summary.launched.append(dispatch)
    return summary
