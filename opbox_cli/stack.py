"""The whole product on loopback: Dagster code server, daemon, webserver and the gateway."""

from __future__ import annotations

import dataclasses
from types import TracebackType

from opbox_cli.gateway_server import BackgroundGateway
from opbox_cli.ports import free_port
from opbox_cli.services import DagsterServices
from resources.app_db.session import migrate
from resources.settings import Settings


class LocalStack:
    """Start everything on free loopback ports; stop() (or leaving the ``with`` block) ends it all."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = DagsterServices(settings, code_server_port=free_port(), webserver_port=free_port())
        self.gateway: BackgroundGateway | None = None

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "start() the stack first"
        return self.gateway.url

    @property
    def dagster_url(self) -> str:
        return self.services.webserver_url

    def start(self) -> LocalStack:
        migrate(self.settings.database_url)
        try:
            self.services.start()
            gateway_settings = dataclasses.replace(self.settings, dagster_url=self.services.webserver_url)
            self.gateway = BackgroundGateway(gateway_settings, free_port())
            self.gateway.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        self.services.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
