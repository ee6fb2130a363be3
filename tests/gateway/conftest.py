"""Fixtures of the gateway tests: a migrated SQLite app database, callers of every role, a client.

Every response received by a client from ``make_client`` (and so ``client``) is checked at teardown
for the emulator's API keys, which must never appear in a response body.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy.orm import Session

from api_gateway.app import create_app
from api_gateway.dagster_client import DagsterClient
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.app_db.session import get_engine, migrate, session_scope
from resources.services.identity import (
    add_membership,
    bootstrap_owner,
    create_api_key,
    get_or_create_user,
)
from resources.settings import Settings, load_settings

# A distinctive provider token, so a leak into any response or log line is easy to find.
EMULATOR_TOKEN = "pat-eu1-canary-7d41e0b9c2f8"
WRONG_TOKEN = "pat-eu1-wrong-5a93c7e1d024"
OWNER_EMAIL = "owner@acme.example"


@dataclass(frozen=True)
class Identities:
    """API keys of one user per role in workspace ``main`` and of the owner of another organisation."""

    organisation_id: str
    workspace_id: str
    workspace_slug: str
    owner_key: str
    admin_key: str
    member_key: str
    viewer_key: str
    owner_user_id: str
    member_user_id: str
    other_workspace_id: str
    other_workspace_slug: str
    other_owner_key: str


class RecordingDagster(DagsterClient):
    """A Dagster client that records calls instead of sending them to a webserver."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1")
        self.launched: list[tuple[str, list[list[str]], dict[str, str]]] = []
        self.terminated: list[str] = []
        self.reloads = 0

    def launch_run(self, job_name: str, asset_paths: list[list[str]], tags: dict[str, str]) -> str:
        self.launched.append((job_name, asset_paths, tags))
        return f"dagster-run-{len(self.launched)}"

    def terminate_run(self, run_id: str) -> None:
        self.terminated.append(run_id)

    def reload_code_location(self) -> None:
        self.reloads += 1


def bearer(key: str, workspace: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if workspace is not None:
        headers["X-Opbox-Workspace"] = workspace
    return headers


def _user_key(session: Session, email: str, organisation_id: str, role: str, workspace_id: str | None) -> str:
    user = get_or_create_user(session, email)
    add_membership(session, user.id, organisation_id, role, workspace_id)
    _, key = create_api_key(session, user.id, workspace_id, name=f"{role.lower()} key")
    return key


def _create_identities(database_url: str) -> Identities:
    with session_scope(database_url) as session:
        main = bootstrap_owner(session, organisation_name="Acme", workspace_name="Main", email=OWNER_EMAIL)
        other = bootstrap_owner(
            session, organisation_name="Globex", workspace_name="Globex Ops", email="owner@globex.example"
        )
        # The admin is an organisation-wide ADMIN, while the member and viewer belong to the workspace only.
        admin_user = get_or_create_user(session, "admin@acme.example")
        add_membership(session, admin_user.id, main.organisation_id, "ADMIN")
        _, admin_key = create_api_key(session, admin_user.id, main.workspace_id)
        member_key = _user_key(session, "member@acme.example", main.organisation_id, "MEMBER", main.workspace_id)
        viewer_key = _user_key(session, "viewer@acme.example", main.organisation_id, "VIEWER", main.workspace_id)
        member_user_id = get_or_create_user(session, "member@acme.example").id
        return Identities(
            organisation_id=main.organisation_id,
            workspace_id=main.workspace_id,
            workspace_slug=main.workspace_slug,
            owner_key=main.api_key,
            admin_key=admin_key,
            member_key=member_key,
            viewer_key=viewer_key,
            owner_user_id=main.user_id,
            member_user_id=member_user_id,
            other_workspace_id=other.workspace_id,
            other_workspace_slug=other.workspace_slug,
            other_owner_key=other.api_key,
        )


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Identities]:
    """Migrate and populate one app database per session. Each test gets a copy of it."""
    path = tmp_path_factory.mktemp("template") / "app.db"
    database_url = f"sqlite:///{path}"
    migrate(database_url)
    identities = _create_identities(database_url)
    get_engine(database_url).dispose()
    return path, identities


def _copy_database(source: Path, target: Path) -> None:
    origin = sqlite3.connect(source)
    copy = sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        origin.close()
        copy.close()


@pytest.fixture
def settings(opbox_home: Path, template_database: tuple[Path, Identities]) -> Settings:
    opbox_home.mkdir(parents=True, exist_ok=True)
    _copy_database(template_database[0], opbox_home / "app.db")
    return load_settings()


@pytest.fixture
def identities(settings: Settings, template_database: tuple[Path, Identities]) -> Identities:
    return template_database[1]


ClientFactory = Callable[..., TestClient[Any]]


@pytest.fixture
def make_client(settings: Settings) -> Iterator[ClientFactory]:
    """Build clients of apps with the given settings and Dagster client.

    At teardown, every response body the clients received is checked for the provider tokens.
    """
    bodies: list[str] = []
    clients: list[TestClient[Any]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.text)

    def build(app_settings: Settings | None = None, dagster: DagsterClient | None = None) -> TestClient[Any]:
        client = TestClient(create_app(app_settings or settings, dagster=dagster))
        client.event_hooks = {"request": [], "response": [record]}
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)
    leaking = [body for body in bodies if EMULATOR_TOKEN in body or WRONG_TOKEN in body]
    assert leaking == [], "a response body contains a provider API key"


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient[Any]:
    return make_client()


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with start_hubspot_emulator(EMULATOR_TOKEN) as running:
        yield running


def connection_body(base_url: str, name: str = "Production CRM", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "CRM_PLATFORM",
        "credentials": {"apiKey": EMULATOR_TOKEN},
        "config": {"baseUrl": base_url},
        **extra,
    }


def create_connection(client: TestClient[Any], key: str, base_url: str, name: str = "Production CRM") -> str:
    response = client.post("/api/pipelines/connections", json=connection_body(base_url, name), headers=bearer(key))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
