"""Benchmark: sync N HubSpot contacts from the emulator into DuckDB through the whole product.

The emulator runs as its own process and is paged through once before timing, because a real
provider serves stored records while the emulator generates each record on first use. The sync
then goes through the gateway, the Dagster run queue, the daemon and a run worker, as in
production. Printed figures:
- trigger to start: from the POST that triggers the run until the run record turns RUNNING;
- sync time: from RUNNING to COMPLETED (reading, accounting, loading, committing cursors);
- rows/s over the sync time and over the whole trigger-to-completion time.

Usage: python bench/bench_sync.py [--contacts 100000] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import requests

from opbox_cli.ports import free_port, http_ok, wait_until
from opbox_cli.stack import LocalStack
from resources.app_db.session import migrate, session_scope
from resources.services.identity import bootstrap_owner
from resources.settings import load_settings

TOKEN = "bench-token"


def _session(api_key: str | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if api_key:
        session.headers["Authorization"] = f"Bearer {api_key}"
    return session


def _page_through(base_url: str, properties: str) -> int:
    """Page through every contact with a plain requests loop; return the number of records."""
    session = _session()
    after: str | None = None
    records = 0
    while True:
        params = {"limit": 100, "properties": properties}
        if after:
            params["after"] = after
        body = session.get(f"{base_url}/crm/v3/objects/contacts", params=params, headers={"Authorization": f"Bearer {TOKEN}"}).json()
        records += len(body["results"])
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return records


def _properties(base_url: str) -> str:
    body = _session().get(f"{base_url}/crm/v3/properties/contacts", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    return ",".join(item["name"] for item in body["results"])


def _instant(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _run_once(client: requests.Session, gateway: str, connection_id: str) -> dict[str, float]:
    triggered = time.time()
    response = client.post(f"{gateway}/api/pipelines/connections/{connection_id}/runs", json={"streams": ["contacts"]})
    response.raise_for_status()
    run_id = response.json()["id"]
    while True:
        run = client.get(f"{gateway}/api/pipelines/connections/{connection_id}/runs/{run_id}").json()
        if run["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.1)
    if run["status"] != "COMPLETED":
        raise RuntimeError(f"run {run_id} ended {run['status']}: {run.get('error')}")
    started = _instant(run["startedAt"])
    completed = _instant(run["completedAt"])
    return {
        "rows": float(run["rowsSynced"]),
        "trigger_to_start": started - triggered,
        "sync_seconds": completed - started,
        "total_seconds": completed - triggered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1, help="full syncs to time, each into a fresh table")
    args = parser.parse_args()

    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "connectors.emulators.hubspot", "--port", str(port), "--token", TOKEN,
         "--contacts", str(args.contacts), "--companies", "1", "--deals", "1"],
        stdout=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    results = []
    try:
        wait_until(lambda: http_ok(f"{base_url}/_emulator/health"), timeout_seconds=60, what="emulator")
        properties = _properties(base_url)
        _page_through(base_url, properties)
        started = time.perf_counter()
        fetched = _page_through(base_url, properties)
        fetch_seconds = time.perf_counter() - started
        print(f"fetching pages alone (plain requests loop, all properties): {fetched / fetch_seconds:,.0f} rows/s", flush=True)
        for index in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="opbox-bench-") as home:
                os.environ["OPBOX_HOME"] = home
                os.environ.pop("DAGSTER_HOME", None)
                os.environ["OPBOX_ALLOW_PRIVATE_NETWORK"] = "1"
                settings = load_settings()
                migrate(settings.database_url)
                with session_scope(settings.database_url) as session:
                    owner = bootstrap_owner(session, organisation_name="Bench", workspace_name="Bench", email="bench@example.com")
                with LocalStack(settings) as stack:
                    client = _session(owner.api_key)
                    created = client.post(
                        f"{stack.gateway_url}/api/pipelines/connections",
                        json={"name": "Bench CRM", "type": "CRM_PLATFORM", "credentials": {"apiKey": TOKEN}, "config": {"baseUrl": base_url}},
                    )
                    created.raise_for_status()
                    result = _run_once(client, stack.gateway_url, created.json()["id"])
                    results.append(result)
                    print(
                        f"run {index + 1}: {int(result['rows'])} rows; trigger to start {result['trigger_to_start']:.2f} s; "
                        f"sync {result['sync_seconds']:.2f} s = {result['rows'] / result['sync_seconds']:,.0f} rows/s; "
                        f"trigger to completion {result['total_seconds']:.2f} s = {result['rows'] / result['total_seconds']:,.0f} rows/s",
                        flush=True,
                    )
    finally:
        emulator.terminate()
        emulator.wait()
    if len(results) > 1:
        print(f"median sync rows/s: {statistics.median(r['rows'] / r['sync_seconds'] for r in results):,.0f}")
        print(f"median end-to-end rows/s: {statistics.median(r['rows'] / r['total_seconds'] for r in results):,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
