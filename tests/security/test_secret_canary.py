"""Secret canaries through the running product: unique secret values must appear in no store and no response.

The product runs as users run it (gateway, Dagster daemon, code server and run workers, emulators on
127.0.0.1). Connections get unique provider tokens. Some syncs succeed, some fail because the
provider echoes the token in its error body, and one uses a wrong token. The test then searches
every file under OPBOX_HOME as raw bytes (app database, Dagster storage and compute logs, DuckDB,
process logs), and the app database and DuckDB tables row by row. It also searches Dagster's runs,
tags and event log through its API, the gateway's in-process log records and every API response.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.app_db.models import WebhookEvent
from resources.app_db.session import session_scope
from resources.settings import Settings, load_settings
from tests.conftest import isolated_environment
from tests.e2e.harness import TERMINAL_STATUSES, Product, start_product

WEBHOOK_WAIT_SECONDS = 60


def canary(kind: str) -> str:
    return f"pat-canary-{kind}-{uuid.uuid4().hex}"


@dataclass
class Findings:
    """Where each canary was found, and how much was searched."""

    hits: list[str] = field(default_factory=list)
    searched: dict[str, int] = field(default_factory=dict)

    def search(self, store: str, text: str | bytes, canaries: dict[str, str]) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
        for name, value in canaries.items():
            if value.encode() in data:
                self.hits.append(f"{name} in {store}")

    def count(self, kind: str, number: int = 1) -> None:
        self.searched[kind] = self.searched.get(kind, 0) + number


class RecordingHandler(logging.Handler):
    """Keeps every log record of the gateway's threads, with its arguments.

    Records of the main thread are left out: they come from this test acting as the user and as
    the provider (for example urllib3 logging the webhook URL that the test posts to).
    """

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName != "MainThread":
            self.lines.append(self.format(record) + repr(record.args))


@pytest.fixture
def recorded_logs() -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    with isolated_environment(tmp_path) as patched:
        yield patched


def record_responses(http: requests.Session, responses: list[str]) -> None:
    def keep(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        responses.append(f"{response.status_code} {dict(response.headers)!r} {response.text}")

    http.hooks["response"].append(keep)


def wait_for_webhook_run(product: Product, settings: Settings, connection_id: str) -> str | None:
    """Wait for the sensor to turn the delivery into a run and for that run to end; return its status."""
    deadline = time.monotonic() + WEBHOOK_WAIT_SECONDS
    while time.monotonic() < deadline:
        with session_scope(settings.database_url) as session:
            run_id = session.query(WebhookEvent.sync_run_id).filter(WebhookEvent.connection_id == connection_id).scalar()
        if run_id:
            run = product.wait_for_run(connection_id, run_id)
            return str(run["status"])
        time.sleep(0.5)
    return None


def search_files(home: Path, canaries: dict[str, str], findings: Findings) -> None:
    for path in sorted(home.rglob("*")):
        if path.is_file():
            findings.search(f"file {path.relative_to(home)}", path.read_bytes(), canaries)
            findings.count("files")


def search_sqlite_tables(database: Path, canaries: dict[str, str], findings: Findings) -> None:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                findings.search(f"app database table {table}", repr(row), canaries)
                findings.count("app database rows")
    finally:
        connection.close()


def search_duckdb_tables(path: Path, canaries: dict[str, str], findings: Findings) -> None:
    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for schema, table in tables:
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                findings.search(f"DuckDB table {schema}.{table}", repr(row), canaries)
                findings.count("DuckDB rows")


def search_dagster(settings: Settings, canaries: dict[str, str], findings: Findings) -> None:
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        for run in instance.get_runs():
            findings.search(f"Dagster run {run.run_id}", serialize_value(run), canaries)
            findings.search(f"Dagster run {run.run_id} tags", json.dumps(dict(run.tags)), canaries)
            findings.count("Dagster runs")
            for event in instance.all_logs(run.run_id):
                findings.search(f"Dagster event log of run {run.run_id}", serialize_value(event), canaries)
                findings.count("Dagster events")


def test_canaries_appear_nowhere(environment: pytest.MonkeyPatch, recorded_logs: RecordingHandler) -> None:
    good, echoed, wrong = canary("good"), canary("echoed"), canary("wrong")
    settings = load_settings()
    assert settings.secret_key is not None
    responses: list[str] = []

    with start_hubspot_emulator(good) as healthy, start_hubspot_emulator(echoed) as echoing:
        echoing.add_fault("/crm/", status=400, body={"message": f"bad token {echoed}"}, times=None)
        product = start_product(settings)
        try:
            record_responses(product.http, responses)
            synced = product.create_crm_connection("Canary CRM", healthy.base_url, good)
            failing = product.create_crm_connection("Echoing CRM", echoing.base_url, echoed)
            rejected = product.create_crm_connection("Wrong token CRM", healthy.base_url, wrong)

            first = product.sync(synced["id"])
            second = product.sync(synced["id"], ["contacts"])
            echoed_run = product.sync(failing["id"])
            rejected_run = product.sync(rejected["id"])
            test_answer = product.post(
                "/api/pipelines/connections/test",
                {"type": "CRM_PLATFORM", "credentials": {"apiKey": echoed}, "config": {"baseUrl": echoing.base_url}},
            )
            checked = product.post(f"/api/pipelines/connections/{failing['id']}/check")
            discovered = product.post(f"/api/pipelines/connections/{failing['id']}/discover")
            revealed = product.post(f"/api/pipelines/connections/{synced['id']}/webhook-url")
            webhook_url = revealed.json()["webhookUrl"]
            webhook_token = webhook_url.rsplit("/", 1)[1]
            delivered = requests.post(webhook_url.replace(settings.public_url, product.url), json={}, timeout=30)
            webhook_run = wait_for_webhook_run(product, settings, synced["id"])
            listed = product.get("/api/pipelines/connections")
        finally:
            product.stack.stop()

    assert first["status"] == "COMPLETED", first.get("error")
    assert second["status"] == "COMPLETED", second.get("error")
    assert echoed_run["status"] == "FAILED"
    assert "bad token ****" in echoed_run["error"]
    assert rejected_run["status"] == "FAILED"
    assert test_answer.status_code in (400, 502)
    assert checked.json()["healthy"] is False
    assert discovered.status_code in (400, 502)
    assert revealed.status_code == 200
    assert delivered.status_code == 202, delivered.text
    assert listed.status_code == 200
    assert webhook_run in (None, *TERMINAL_STATUSES)

    canaries = {
        "provider token of a synced connection": good,
        "provider token echoed in error bodies": echoed,
        "wrong provider token": wrong,
        "owner API key": product.owner.api_key,
        "OPBOX_SECRET_KEY": settings.secret_key,
        "webhook token": webhook_token,
    }
    findings = Findings()
    search_files(settings.home, canaries, findings)
    search_sqlite_tables(settings.home / "app.db", canaries, findings)
    search_duckdb_tables(settings.duckdb_path, canaries, findings)
    search_dagster(settings, canaries, findings)
    for line in recorded_logs.lines:
        findings.search("gateway process log", line, canaries)
    findings.count("log records", len(recorded_logs.lines))
    # The reveal is the one response allowed to contain the webhook token.
    for text in responses:
        allowed = {name: value for name, value in canaries.items() if not (name == "webhook token" and webhook_url in text)}
        findings.search("API response", text, allowed)
    findings.count("API responses", len(responses))
    print(f"canary search: {findings.searched}, webhook run: {webhook_run}, hits: {findings.hits}")

    assert findings.searched["files"] > 10
    assert findings.searched["Dagster events"] > 0
    assert findings.searched["DuckDB rows"] > 0
    assert findings.searched["API responses"] >= 10
    assert findings.hits == []
