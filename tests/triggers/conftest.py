"""Fixtures of the trigger tests that need only an app database, not a running product."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from resources.app_db.session import migrate, session_scope
from resources.services.connections import ConnectionInput, create_connection
from resources.services.identity import Bootstrap, bootstrap_owner
from resources.settings import Settings, load_settings
from resources.vault import load_vault


@dataclass(frozen=True)
class AppDatabase:
    settings: Settings
    owner: Bootstrap
    add_connection: Callable[..., str]


@pytest.fixture(params=["sqlite", "postgres"])
def app_db(
    request: pytest.FixtureRequest, opbox_home: Path, postgres_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppDatabase]:
    """A migrated app database with one workspace. ``add_connection(name, schedule=..., enabled=...)`` stores a CRM connection."""
    if request.param == "postgres":
        monkeypatch.setenv("OPBOX_DATABASE_URL", postgres_database("app").replace("postgresql://", "postgresql+psycopg2://"))
    settings = load_settings()
    migrate(settings.database_url)
    with session_scope(settings.database_url) as session:
        owner = bootstrap_owner(session, organisation_name="Acme", workspace_name="Main", email="owner@example.com")

    def add_connection(name: str, *, schedule: dict[str, Any] | None = None, enabled: bool = True) -> str:
        data = ConnectionInput(
            name=name,
            type="CRM_PLATFORM",
            credentials={"apiKey": "pat-unit-test"},
            config={"baseUrl": "http://127.0.0.1:9"},
            schedule=schedule,
            notify_user_ids=[],
        )
        with session_scope(settings.database_url) as session:
            connection = create_connection(
                session, load_vault(settings), workspace_id=owner.workspace_id, data=data, created_by_user_id=None
            )
            connection.enabled = enabled
            return connection.id

    yield AppDatabase(settings, owner, add_connection)
