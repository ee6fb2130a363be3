"""Deployment settings read from environment variables.

Every setting has an embedded default, so a fresh install runs on one machine from ``OPBOX_HOME``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "./.opbox"
DEFAULT_MAX_CONCURRENT_RUNS = 4


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _plain_postgres_url(url: str | None) -> str | None:
    """Drop a SQLAlchemy driver suffix (``postgresql+psycopg2://``) so libpq and dlt accept the URL."""
    if not url:
        return None
    scheme, separator, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{separator}{rest}"


@dataclass(frozen=True)
class Settings:
    """Settings of one deployment; see the README's settings table for each variable."""

    home: Path
    database_url: str
    destination_url: str | None
    dagster_home: Path
    dagster_database_url: str | None
    dagster_url: str | None
    secret_key: str | None
    allow_private_network: bool
    public_url: str
    cron_secret: str | None
    max_concurrent_runs: int

    @property
    def duckdb_path(self) -> Path:
        return self.home / "opbox.duckdb"

    @property
    def uses_duckdb(self) -> bool:
        return not self.destination_url


def load_settings() -> Settings:
    """Read the settings from the environment; paths are made absolute so child processes agree."""
    home = Path(os.environ.get("OPBOX_HOME") or DEFAULT_HOME).expanduser().resolve()
    database_url = os.environ.get("OPBOX_DATABASE_URL") or f"sqlite:///{home / 'app.db'}"
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").expanduser().resolve()
    return Settings(
        home=home,
        database_url=database_url,
        destination_url=_plain_postgres_url(os.environ.get("OPBOX_DESTINATION_URL")),
        dagster_home=dagster_home,
        dagster_database_url=os.environ.get("OPBOX_DAGSTER_DATABASE_URL") or None,
        dagster_url=os.environ.get("OPBOX_DAGSTER_URL") or None,
        secret_key=os.environ.get("OPBOX_SECRET_KEY") or None,
        allow_private_network=_flag("OPBOX_ALLOW_PRIVATE_NETWORK"),
        public_url=(os.environ.get("OPBOX_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
        cron_secret=os.environ.get("OPBOX_CRON_SECRET") or None,
        max_concurrent_runs=int(
            os.environ.get("OPBOX_MAX_CONCURRENT_RUNS") or DEFAULT_MAX_CONCURRENT_RUNS
        ),
    )
