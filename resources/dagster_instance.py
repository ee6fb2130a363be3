"""Prepare DAGSTER_HOME: the instance settings and the workspace file that `opbox serve` uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from resources.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = PROJECT_ROOT / "dagster.yaml"
CODE_LOCATION_NAME = "opbox"


def render_instance_config(settings: Settings) -> dict[str, Any]:
    """Return the instance settings: the project's dagster.yaml with this deployment's values."""
    if not TEMPLATE_PATH.exists():
        raise FileNotFoundError(f"{TEMPLATE_PATH} is missing; reinstall Opbox Pipelines from its repository")
    config = yaml.safe_load(TEMPLATE_PATH.read_text())
    config["run_coordinator"]["config"]["max_concurrent_runs"] = settings.max_concurrent_runs
    if settings.dagster_database_url:
        # The URL is read from the environment at start-up, so no password lands in the file.
        config["storage"] = {"postgres": {"postgres_url": {"env": "OPBOX_DAGSTER_DATABASE_URL"}}}
    return config


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
