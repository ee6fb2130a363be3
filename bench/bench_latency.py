"""Benchmark: how long a sync waits between its trigger and the start of its run.

Starts the whole product on loopback (gateway, Dagster code server, daemon, webserver) with a
HubSpot emulator in this process, then measures one connection, one run at a time:
- trigger to start: from sending ``POST /connections/:id/runs`` until the run record's
  ``startedAt``, which the run worker sets when it marks the record RUNNING;
- webhook to start: from sending ``POST /webhook/:token`` until the ``startedAt`` of the run
  that the webhook sensor created for the delivery.
Each run is left to complete before the next trigger, so every sample starts from an idle product.
Both clocks are this machine's, so the difference needs no synchronisation.

Usage: python bench/bench_latency.py [--samples 20] [--contacts 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import start_hubspot_emulator
from opbox_cli.stack import LocalStack
from resources.app_db.session import migrate, session_scope
from resources.services.identity import bootstrap_owner
from resources.settings import load_settings

TOKEN = "bench-latency-token"
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")
POLL_SECONDS = 0.05
RUN_TIMEOUT_SECONDS = 180


def _session(api_key: str | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if api_key:
        session.headers["Authorization"] = f"Bearer {api_key}"
    return session


def _instant(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _poll(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{what} did not happen within {RUN_TIMEOUT_SECONDS} s")


class Bench:
    def __init__(self, gateway_url: str, api_key: str, connection_id: str) -> None:
        self.client = _session(api_key)
        self.runs_url = f"{gateway_url}/api/pipelines/connections/{connection_id}/runs"

    def run(self, run_id: str) -> dict[str, Any]:
        return self.client.get(f"{self.runs_url}/{run_id}", timeout=30).json()

    def finish(self, run_id: str) -> dict[str, Any]:
        """Wait until the run ends and return it; raise unless it completed."""
        run = _poll(lambda: (body := self.run(run_id))["status"] in TERMINAL_STATUSES and body, f"run {run_id} to end")
        if run["status"] != "COMPLETED":
            raise RuntimeError(f"run {run_id} ended {run['status']}: {run.get('error')}")
        return run

    def newest_run_id(self) -> str | None:
        runs = self.client.get(self.runs_url, params={"limit": 1}, timeout=30).json()["runs"]
        return runs[0]["id"] if runs else None

    def trigger_to_start(self) -> float:
        sent_at = time.time()
        response = self.client.post(self.runs_url, json={}, timeout=60)
        response.raise_for_status()
        run = self.finish(response.json()["id"])
        return _instant(run["startedAt"]) - sent_at

    def webhook_to_start(self, webhook_url: str, delivery_id: str) -> float:
        previous = self.newest_run_id()
        sent_at = time.time()
        response = _session().post(webhook_url, json={"objectId": 1}, headers={"X-Opbox-Delivery-Id": delivery_id}, timeout=60)
        response.raise_for_status()
        run_id = _poll(lambda: (newest := self.newest_run_id()) != previous and newest, "the webhook run to be created")
        run = self.finish(run_id)
        if run["trigger"] != "WEBHOOK":
            raise RuntimeError(f"run {run_id} has trigger {run['trigger']}, expected WEBHOOK")
        return _instant(run["startedAt"]) - sent_at


def _webhook_url(client: requests.Session, gateway_url: str, connection_id: str) -> str:
    """Reveal the webhook URL and point it at this gateway, whose port differs from OPBOX_PUBLIC_URL."""
    response = client.post(f"{gateway_url}/api/pipelines/connections/{connection_id}/webhook-url", json={}, timeout=60)
    response.raise_for_status()
    token = response.json()["webhookUrl"].rsplit("/", 1)[-1]
    return f"{gateway_url}/api/pipelines/webhook/{token}"


def _report(name: str, samples: list[float]) -> None:
    print(
        f"{name}: median {statistics.median(samples):.2f} s, worst {max(samples):.2f} s, "
        f"best {min(samples):.2f} s over {len(samples)} runs",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="runs measured per trigger kind")
    parser.add_argument("--contacts", type=int, default=50, help="contacts in the emulator; each run syncs all streams")
    args = parser.parse_args()

    dataset = HubSpotDataset(contacts=args.contacts, companies=5, deals=5)
    with tempfile.TemporaryDirectory(prefix="opbox-latency-") as home, start_hubspot_emulator(TOKEN, dataset=dataset) as emulator:
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
                json={"name": "Latency CRM", "type": "CRM_PLATFORM", "credentials": {"apiKey": TOKEN}, "config": {"baseUrl": emulator.base_url}},
                timeout=120,
            )
            created.raise_for_status()
            connection_id = created.json()["id"]
            bench = Bench(stack.gateway_url, owner.api_key, connection_id)
            webhook_url = _webhook_url(client, stack.gateway_url, connection_id)

            manual = []
            for index in range(args.samples):
                manual.append(bench.trigger_to_start())
                print(f"trigger to start, run {index + 1}: {manual[-1]:.2f} s", flush=True)
            webhook = []
            for index in range(args.samples):
                webhook.append(bench.webhook_to_start(webhook_url, f"bench-{index}"))
                print(f"webhook to start, run {index + 1}: {webhook[-1]:.2f} s", flush=True)

    _report("trigger to start (POST /runs until RUNNING)", manual)
    _report("webhook to start (POST /webhook until RUNNING)", webhook)
    return 0


if __name__ == "__main__":
    sys.exit(main())
