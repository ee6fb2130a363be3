"""Liveness of the gateway and its app database."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api_gateway.errors import DatabaseUnavailable
from resources.app_db.session import get_engine
from resources.settings import Settings

logger = logging.getLogger(__name__)


def check_database(settings: Settings) -> None:
    """Run ``SELECT 1`` on the app database or raise ``DatabaseUnavailable``."""
    try:
        with get_engine(settings.database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        logger.error("health check: the app database did not respond: %s", error)
        raise DatabaseUnavailable(
            "the app database is unavailable; check OPBOX_DATABASE_URL and that the database is running"
        ) from error


class HealthController(Controller):
    path = "/api/health"
    tags = ["health"]

    @get("/", sync_to_thread=True, summary="Check the gateway and its app database")
    def health(self, settings: NamedDependency[Settings]) -> dict[str, Any]:
        check_database(settings)
        return {"status": "ok", "database": "ok"}
