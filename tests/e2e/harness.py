"""Drive the whole product over HTTP: the gateway, the Dagster daemon, run queue and run workers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from opbox_cli.stack import LocalStack
from resources.app_db.session import migrate, session_scope
from resources.services.identity import Bootstrap, bootstrap_owner
from resources.settings import Settings

TERMINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")
RUN_TIMEOUT_SECONDS = 180


@dataclass
class Product:
    stack: LocalStack
    owner: Bootstrap
    http: requests.Session

    @property
    def url(self) -> str:
        return self.stack.gateway_url

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.http.post(f"{self.url}{path}", json=body, timeout=120)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.url}{path}", params=params, timeout=60)

    def create_crm_connection(self, name: str, base_url: str, token: str) -> dict[str, Any]:
        response = self.post(
            "/api/pipelines/connections",
            {"name": name, "type": "CRM_PLATFORM", "credentials": {"apiKey": token}, "config": {"baseUrl": base_url}},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def trigger(self, connection_id: str, streams: list[str] | None = None) -> dict[str, Any]:
        response = self.post(f"/api/pipelines/connections/{connection_id}/runs", {"streams": streams} if streams else {})
        assert response.status_code == 201, response.text
        return response.json()

    def wait_for_run(self, connection_id: str, run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            run = self.get(f"/api/pipelines/connections/{connection_id}/runs/{run_id}").json()
            if run["status"] in TERMINAL_STATUSES:
                return run
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not finish within {RUN_TIMEOUT_SECONDS} s")

    def sync(self, connection_id: str, streams: list[str] | None = None) -> dict[str, Any]:
        run = self.trigger(connection_id, streams)
        return self.wait_for_run(connection_id, run["id"])


def start_product(settings: Settings) -> Product:
    migrate(settings.database_url)
    with session_scope(settings.database_url) as session:
        owner = bootstrap_owner(session, organisation_name="Acme Legal", workspace_name="Main", email="owner@example.com")
    stack = LocalStack(settings).start()
    http = requests.Session()
    http.trust_env = False
    http.headers["Authorization"] = f"Bearer {owner.api_key}"
    return Product(stack, owner, http)
