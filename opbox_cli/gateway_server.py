"""Run the Litestar gateway under uvicorn, in the foreground or in a background thread."""

from __future__ import annotations

import threading

import uvicorn

from api_gateway.app import create_app
from api_gateway.dagster_client import DagsterClient
from opbox_cli.ports import http_ok, wait_until
from resources.settings import Settings


def build_server(settings: Settings, port: int) -> uvicorn.Server:
    dagster = DagsterClient(settings.dagster_url) if settings.dagster_url else None
    app = create_app(settings, dagster=dagster)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


class BackgroundGateway:
    """The gateway in a daemon thread, for the demo and tests that drive it over HTTP."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.port = port
        self.server = build_server(settings, port)
        self.thread = threading.Thread(target=self.server.run, name="opbox-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: http_ok(f"{self.url}/api/health"), timeout_seconds=60, what="gateway")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
