"""`opbox demo`: sync the CRM emulator into DuckDB through the HTTP API and print what arrived."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from typing import Any

import requests

from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import start_hubspot_emulator
from opbox_cli.stack import LocalStack
from resources.app_db.session import migrate, session_scope
from resources.services.identity import bootstrap_owner
from resources.settings import load_settings

DEMO_TOKEN = "demo-private-app-token"
RUN_TIMEOUT_SECONDS = 600
TERMINAL_STATUSES = {"COMPLETED", "FAILED", "CANCELLED"}


class DemoClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base_url}{path}", timeout=120, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} returned HTTP {response.status_code}: {response.text}")
        return response.json()


def _demo_home() -> str:
    base = os.environ.get("OPBOX_HOME") or "./.opbox"
    return os.path.abspath(os.path.join(base, "demo"))


def _wait_for_run(client: DemoClient, connection_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    last_status = None
    while time.monotonic() < deadline:
        run = client.call("GET", f"/api/pipelines/connections/{connection_id}/runs/{run_id}")
        if run["status"] != last_status:
            print(f"  run {run_id}: {run['status']}", flush=True)
            last_status = run["status"]
        if run["status"] in TERMINAL_STATUSES:
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish within {RUN_TIMEOUT_SECONDS} s")


def _print_tables(client: DemoClient, connection_id: str) -> None:
    details = client.call("GET", f"/api/pipelines/connections/{connection_id}")
    print("\nRows per table:")
    for table in details["tables"]:
        print(f"  {table['tableName']:<32} {table['rowCount']:>8} rows, {len(table['columns'])} columns")
    for table in details["tables"]:
        sample = client.call(
            "GET", f"/api/pipelines/connections/{connection_id}/tables/{table['stream']}/rows", params={"limit": 3}
        )
        print(f"\nSample of {table['tableName']}:")
        for row in sample["rows"]:
            shown = {key: value for key, value in row.items() if not key.startswith("_")}
            print("  " + ", ".join(f"{key}={value}" for key, value in list(shown.items())[:7]))


def run_demo(args: argparse.Namespace) -> int:
    home = _demo_home()
    shutil.rmtree(home, ignore_errors=True)
    os.environ["OPBOX_HOME"] = home
    os.environ.pop("DAGSTER_HOME", None)
    os.environ["OPBOX_ALLOW_PRIVATE_NETWORK"] = "1"
    settings = load_settings()
    print(f"Demo data folder: {home}")

    dataset = HubSpotDataset(contacts=args.contacts, companies=300, deals=500)
    with start_hubspot_emulator(DEMO_TOKEN, dataset=dataset) as emulator:
        print(f"HubSpot emulator: {emulator.base_url}")
        migrate(settings.database_url)
        with session_scope(settings.database_url) as session:
            owner = bootstrap_owner(session, organisation_name="Demo organisation", workspace_name="Demo", email="owner@example.com")
        print("Starting Dagster (code server, daemon, webserver) and the gateway...", flush=True)
        with LocalStack(settings) as stack:
            client = DemoClient(stack.gateway_url, owner.api_key)
            connection = client.call(
                "POST",
                "/api/pipelines/connections",
                json={
                    "name": "Demo CRM",
                    "type": "CRM_PLATFORM",
                    "credentials": {"apiKey": DEMO_TOKEN},
                    "config": {"baseUrl": emulator.base_url},
                },
            )
            print(f"Created connection {connection['id']} ({connection['name']})")
            run = client.call("POST", f"/api/pipelines/connections/{connection['id']}/runs", json={})
            print(f"Triggered sync run {run['id']}")
            finished = _wait_for_run(client, connection["id"], run["id"])
            if finished["status"] != "COMPLETED":
                print(f"Sync ended {finished['status']}: {finished.get('error')}")
                return 1
            print(
                f"Synced {finished['rowsSynced']} rows ({finished['rowsCreated']} created, "
                f"{finished['rowsUpdated']} updated)"
            )
            _print_tables(client, connection["id"])
            print(f"\nDagster UI: {stack.dagster_url}")
            print(f"Gateway:    {stack.gateway_url}/api/pipelines/connections (Authorization: Bearer {owner.api_key[:11]}...)")
            print(f"Tables:     DuckDB file {settings.duckdb_path}, schema ws_{owner.workspace_slug}")
            if args.keep_running:
                print("Running until Ctrl-C.", flush=True)
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
    print("Stopped everything.")
    return 0
