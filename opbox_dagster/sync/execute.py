"""Execute one sync run from its record: start it, load, then complete or fail it.

The Dagster step calls this; so do engine tests that need no Dagster process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connectors.errors import ConnectorError
from connectors.http import mask_secrets
from opbox_dagster.sync.connection_context import load_connection_context
from opbox_dagster.sync.run_records import complete_run, fail_run, start_run
from opbox_dagster.sync.runner import LoadedStream, sync_streams
from resources.settings import Settings

logger = logging.getLogger(__name__)


class RunStopped(Exception):
    """The run record was stopped (cancelled or failed) before the run could finish."""


class SyncFailed(Exception):
    """The sync failed; the message is safe to show and already stored on the run record."""


def _connector_error(error: BaseException) -> ConnectorError | None:
    """Find a connector error under the wrappers dlt adds around extraction failures."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectorError):
            return current
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def execute_sync(
    settings: Settings,
    *,
    sync_run_id: str,
    connection_id: str,
    streams: list[str],
    dagster_run_id: str,
    on_progress: Callable[[str], None] = lambda message: None,
    is_interruption: Callable[[BaseException], bool] = lambda error: isinstance(error, KeyboardInterrupt),
) -> list[LoadedStream]:
    """Run the sync recorded as ``sync_run_id`` and return what each stream loaded.

    Raises ``RunStopped`` when the record was stopped before or during the run, and
    ``SyncFailed`` (after marking the record FAILED) on any error. An interruption marks the
    record CANCELLED and is re-raised.
    """
    if not start_run(settings, sync_run_id, dagster_run_id):
        raise RunStopped(f"sync run {sync_run_id} was stopped before it started; nothing was loaded")
    logger.info("sync run %s started: connection %s, streams %s", sync_run_id, connection_id, ", ".join(streams))

    secrets: tuple[str, ...] = ()
    try:
        connection = load_connection_context(settings, connection_id)
        secrets = tuple(str(value) for value in connection.credentials.values())
        loaded = sync_streams(settings, connection, streams, run_id=sync_run_id, on_progress=on_progress)
    except BaseException as error:
        if is_interruption(error):
            fail_run(settings, sync_run_id, "the run was stopped", status="CANCELLED")
            logger.info("sync run %s stopped", sync_run_id)
            raise
        if not isinstance(error, Exception):
            raise
        # Connector errors carry a message meant for users; other errors keep their type and text,
        # masked because library errors may quote request details.
        cause = _connector_error(error)
        text = str(cause) if cause is not None else f"{type(error).__name__}: {error}"
        message = mask_secrets(text, secrets)
        fail_run(settings, sync_run_id, message)
        logger.warning("sync run %s failed: %s", sync_run_id, message)
        raise SyncFailed(message) from None

    if not complete_run(settings, sync_run_id, [item.outcome for item in loaded]):
        raise RunStopped(f"sync run {sync_run_id} was stopped while loading; its cursors were not moved")
    logger.info("sync run %s completed", sync_run_id)
    return loaded
