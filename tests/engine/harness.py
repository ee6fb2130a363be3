"""Run the sync engine in-process against real destinations, without a Dagster process.

Engine tests check cursor, accounting and schema rules on DuckDB and PostgreSQL quickly; the
end-to-end tests in tests/e2e cover the same engine behind the gateway and real Dagster.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import duckdb
import psycopg2
from sqlalchemy import select

from opbox_dagster.sync.execute import SyncFailed, execute_sync
from opbox_dagster.sync.run_records import create_run
from resources.app_db.models import Connection, SyncRun
from resources.app_db.session import migrate, session_scope
from resources.destination import dataset_name, table_name
from resources.services.connections import create_connection, parse_connection_input
from resources.services.identity import bootstrap_owner
from resources.settings import Settings, load_settings
from resources.vault import load_vault


@dataclass
class Engine:
    settings: Settings
    workspace_id: str
    workspace_slug: str

    def create_connection(self, name: str, base_url: str, token: str, config: dict[str, Any] | None = None) -> str:
        body = {"name": name, "type": "CRM_PLATFORM", "credentials": {"apiKey": token}, "config": {"baseUrl": base_url, **(config or {})}}
        with session_scope(self.settings.database_url) as session:
            connection = create_connection(
                session,
                load_vault(self.settings),
                workspace_id=self.workspace_id,
                data=parse_connection_input(body, self.settings),
                created_by_user_id=None,
            )
            return connection.id

    def sync(self, connection_id: str, streams: list[str], trigger: str = "MANUAL") -> SyncRun:
        """Run one sync to its end and return the run record (COMPLETED or FAILED)."""
        run_id = create_run(self.settings, connection_id=connection_id, workspace_id=self.workspace_id, trigger=trigger, streams=streams)
        try:
            execute_sync(
                self.settings,
                sync_run_id=run_id,
                connection_id=connection_id,
                streams=streams,
                dagster_run_id=f"test-{uuid.uuid4().hex[:8]}",
            )
        except SyncFailed:
            pass
        return self.run(run_id)

    def run(self, run_id: str) -> SyncRun:
        with session_scope(self.settings.database_url) as session:
            return session.get(SyncRun, run_id)

    def cursor(self, connection_id: str, stream: str) -> str | None:
        with session_scope(self.settings.database_url) as session:
            state = session.scalar(select(Connection.sync_state).where(Connection.id == connection_id))
        return (state.get("streams") or {}).get(stream, {}).get("cursor")

    def set_sync_state(self, connection_id: str, state: dict[str, Any]) -> None:
        with session_scope(self.settings.database_url) as session:
            session.get(Connection, connection_id).sync_state = state

    def query(self, sql_template: str, connection_name: str, stream: str, *, own_tables: bool = False) -> list[tuple[Any, ...]]:
        """Run SQL with ``{table}`` replaced by the stream's fully qualified table."""
        table = f'"{dataset_name(self.workspace_slug)}"."{table_name(connection_name, stream, own_tables=own_tables)}"'
        sql = sql_template.format(table=table)
        if self.settings.uses_duckdb:
            with duckdb.connect(str(self.settings.duckdb_path), read_only=True) as db:
                return [tuple(row) for row in db.execute(sql).fetchall()]
        with psycopg2.connect(self.settings.destination_url) as db, db.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]

    def columns(self, connection_name: str, stream: str) -> dict[str, str]:
        table = table_name(connection_name, stream, own_tables=False)
        sql = (
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{dataset_name(self.workspace_slug)}' AND table_name = '{table}'"
        )
        if self.settings.uses_duckdb:
            if not self.settings.duckdb_path.exists():
                return {}
            with duckdb.connect(str(self.settings.duckdb_path), read_only=True) as db:
                return {name: kind.upper() for name, kind in db.execute(sql).fetchall()}
        with psycopg2.connect(self.settings.destination_url) as db, db.cursor() as cursor:
            cursor.execute(sql)
            return {name: kind.upper() for name, kind in cursor.fetchall()}


def start_engine() -> Engine:
    settings = load_settings()
    migrate(settings.database_url)
    with session_scope(settings.database_url) as session:
        owner = bootstrap_owner(session, organisation_name="Engine Tests", workspace_name="Engine", email="engine@example.com")
    return Engine(settings, owner.workspace_id, owner.workspace_slug)
