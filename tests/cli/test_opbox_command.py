"""The `opbox` command as a user runs it: init, serve with a clean Ctrl-C, and the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from opbox_cli.ports import free_port, http_ok, wait_until

OPBOX = str(Path(sys.executable).parent / "opbox")


def run_opbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPBOX, *args], capture_output=True, text=True, timeout=120, env=os.environ.copy())


def test_init_prints_key_as_json(opbox_home: Path) -> None:
    result = run_opbox("init", "--json", "--email", "first.owner@example.com")

    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"apiKey", "organisationId", "workspaceId"}
    assert created["apiKey"].startswith("sk_")
    assert (opbox_home / "app.db").exists()
    assert (opbox_home / "dagster" / "dagster.yaml").exists()


def test_serve_answers_then_stops_on_ctrl_c(opbox_home: Path) -> None:
    created = json.loads(run_opbox("init", "--json").stdout)
    port, dagster_port = free_port(), free_port()
    server = subprocess.Popen(
        [OPBOX, "serve", "--port", str(port), "--dagster-port", str(dagster_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), timeout_seconds=180, what="opbox serve")
        children = psutil.Process(server.pid).children(recursive=True)
        session = requests.Session()
        session.trust_env = False
        listed = session.get(
            f"http://127.0.0.1:{port}/api/pipelines/connections", headers={"Authorization": f"Bearer {created['apiKey']}"}
        )
        assert listed.status_code == 200
        assert listed.json() == {"connections": []}
        assert http_ok(f"http://127.0.0.1:{dagster_port}/server_info")

        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0
    time.sleep(1)
    assert [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE] == []


def test_emulator_command_serves_hubspot(opbox_home: Path) -> None:
    port = free_port()
    emulator = subprocess.Popen(
        [OPBOX, "emulator", "crm", "--port", str(port), "--token", "pat-cli-token", "--contacts", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/_emulator/health"), timeout_seconds=30, what="emulator")
        session = requests.Session()
        session.trust_env = False
        page = session.get(
            f"http://127.0.0.1:{port}/crm/v3/objects/contacts?limit=100", headers={"Authorization": "Bearer pat-cli-token"}
        ).json()
        assert len(page["results"]) == 12
    finally:
        emulator.send_signal(signal.SIGINT)
        emulator.wait(timeout=30)
    assert emulator.returncode == 0


@pytest.mark.parametrize("arguments", [["serve", "--port", "not-a-port"], ["emulator"], ["frobnicate"]])
def test_bad_arguments_exit_with_usage(arguments: list[str]) -> None:
    result = run_opbox(*arguments)

    assert result.returncode == 2
    assert "usage: opbox" in result.stderr
