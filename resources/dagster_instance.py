"""Prepare DAGSTER_HOME: the instance settings and the workspace file that `opbox serve` uses."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import yaml

from resources.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = PROJECT_ROOT / "dagster.yaml"
CODE_LOCATION_NAME = "opbox"
STORAGE_URL_VARIABLE = "OPBOX_DAGSTER_STORAGE_URL"


def render_instance_config(settings: Settings) -> dict[str, Any]:
    """Return the instance settings: the project's dagster.yaml with this deployment's values."""
    if not TEMPLATE_PATH.exists():
        raise FileNotFoundError(f"{TEMPLATE_PATH} is missing; reinstall Opbox Pipelines from its repository")
    config = yaml.safe_load(TEMPLATE_PATH.read_text())
    config["run_coordinator"]["config"]["max_concurrent_runs"] = settings.max_concurrent_runs
    if settings.dagster_database_url:
        # The URL is read from the environment at start-up, so no password lands in the file.
        config["storage"] = {"postgres": {"postgres_url": {"env": STORAGE_URL_VARIABLE}}}
    return config


def dagster_storage_url(settings: Settings) -> str | None:
    """Return Dagster's PostgreSQL URL with the psycopg2 driver, which dagster-postgres is built on.

    SQLAlchemy 2.1 maps a plain ``postgresql://`` URL to psycopg 3, whose connections Dagster's
    pooling closes under it ("the connection is closed").
    """
    url = settings.dagster_database_url
    if not url:
        return None
    scheme, separator, rest = url.partition("://")
    return f"postgresql+psycopg2{separator}{rest}" if scheme in {"postgres", "postgresql"} else url


def export_storage_url(settings: Settings, environment: MutableMapping[str, str]) -> None:
    """Put the storage URL where dagster.yaml reads it, for Dagster processes and instances."""
    url = dagster_storage_url(settings)
    if url:
        environment[STORAGE_URL_VARIABLE] = url


def prepare_dagster_home(settings: Settings) -> Path:
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    path = settings.dagster_home / "dagster.yaml"
    path.write_text(yaml.safe_dump(render_instance_config(settings), sort_keys=False))
    return path


def write_workspace_file(settings: Settings, code_server_port: int) -> Path:
    """Point the webserver and daemon at the one code server that `opbox serve` starts."""
    path = settings.home / "workspace.yaml"
    workspace = {
        "load_from": [
            {"grpc_server": {"host": "127.0.0.1", "port": code_server_port, "location_name": CODE_LOCATION_NAME}}
        ]
    }
    path.write_text(yaml.safe_dump(workspace, sort_keys=False))
    return path
