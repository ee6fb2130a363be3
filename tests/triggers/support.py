"""Helpers of the trigger tests: records read from the app database, webhook URLs and polling."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
from dagster import DagsterEventType, DagsterInstance, DagsterRun
from sqlalchemy import select

from resources.app_db.models import Connection, SyncRun, WebhookEvent
from resources.app_db.session import session_scope
from resources.settings import load_settings
from resources.vault import load_vault
from tests.e2e.harness import Product

T = TypeVar("T")
POLL_SECONDS = 0.2
STARTED_PROCESS = re.compile(r"Started process for run \(pid: (\d+)\)")


def wait_for(check: Callable[[], T | None], *, timeout_seconds: float, what: str) -> T:
    """Poll ``check`` until it returns a truthy value and return it, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out after {timeout_seconds:.0f} s waiting for {what}")


def plain_session() -> requests.Session:
    """Return an HTTP session without an API key, as a provider or a cron service calls."""
    session = requests.Session()
    session.trust_env = False
    return session


def webhook_url(product: Product, connection_id: str) -> str:
    """Return the connection's webhook URL, with the token read from the vault as the reveal endpoint does."""
    settings = load_settings()
    with session_scope(settings.database_url) as session:
        sealed = session.get(Connection, connection_id).webhook_token_encrypted
    return f"{product.url}/api/pipelines/webhook/{load_vault(settings).decrypt(sealed)}"


def run_records(connection_id: str) -> list[SyncRun]:
    with session_scope(load_settings().database_url) as session:
        return list(
            session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id).order_by(SyncRun.created_at))
        )


def webhook_events(connection_id: str) -> list[WebhookEvent]:
    with session_scope(load_settings().database_url) as session:
        return list(
            session.scalars(
                select(WebhookEvent).where(WebhookEvent.connection_id == connection_id).order_by(WebhookEvent.received_at)
            )
        )


@contextmanager
def dagster_instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.from_config(str(load_settings().dagster_home)) as instance:
        yield instance


def dagster_runs_of(connection_id: str) -> list[DagsterRun]:
    from dagster import RunsFilter

    with dagster_instance() as instance:
        return list(instance.get_runs(RunsFilter(tags={"opbox/connection_id": connection_id})))


def run_worker_pid(dagster_run_id: str) -> int | None:
    """Return the pid of the process executing the Dagster run, from its "Started process" event."""
    with dagster_instance() as instance:
        for record in instance.all_logs(dagster_run_id, of_type=DagsterEventType.ENGINE_EVENT):
            match = STARTED_PROCESS.search(record.message or "")
            if match:
                return int(match.group(1))
    return None


def run_body(product: Product, connection_id: str, run_id: str) -> dict[str, Any]:
    response = product.get(f"/api/pipelines/connections/{connection_id}/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()
