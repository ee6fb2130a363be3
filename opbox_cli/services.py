"""Start and stop the Dagster code server, webserver and daemon as child processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from opbox_cli.ports import http_ok, port_open, wait_until
from resources.dagster_instance import CODE_LOCATION_NAME, export_storage_url, prepare_dagster_home, write_workspace_file
from resources.settings import Settings

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 20


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def child_environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment for child processes, with every path made absolute."""
    env = dict(os.environ)
    env["OPBOX_HOME"] = str(settings.home)
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    env.setdefault("PYTHONUNBUFFERED", "1")
    export_storage_url(settings, env)
    env.update(extra or {})
    return env


@dataclass
class DagsterServices:
    """The three Dagster processes behind one gateway; stop() ends them in reverse order."""

    settings: Settings
    code_server_port: int
    webserver_port: int
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    def _spawn(self, name: str, command: list[str]) -> None:
        log_dir = self.settings.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=child_environment(self.settings),
            start_new_session=True,
        )
        log_file.close()
        self.processes.append((name, process))
        logger.info("started %s (pid %d), log %s", name, process.pid, log_dir / f"{name}.log")

    def _check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {process.returncode} during start-up; see "
                    f"{self.settings.home / 'logs' / (name + '.log')}"
                )

    def start(self) -> None:
        prepare_dagster_home(self.settings)
        workspace = write_workspace_file(self.settings, self.code_server_port)
        self._spawn(
            "code-server",
            [_bin("dagster"), "code-server", "start", "-m", "opbox_dagster.definitions",
             "-h", "127.0.0.1", "-p", str(self.code_server_port), "--location-name", CODE_LOCATION_NAME],
        )
        wait_until(lambda: self._alive_and(port_open, self.code_server_port), timeout_seconds=STARTUP_TIMEOUT_SECONDS, what="Dagster code server")
        self._spawn("daemon", [_bin("dagster-daemon"), "run", "-w", str(workspace)])
        self._spawn(
            "webserver",
            [_bin("dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(self.webserver_port)],
        )
        wait_until(
            lambda: self._alive_and(http_ok, f"{self.webserver_url}/server_info"),
            timeout_seconds=STARTUP_TIMEOUT_SECONDS,
            what="Dagster webserver",
        )

    def _alive_and(self, check, argument) -> bool:  # type: ignore[no-untyped-def]
        self._check_alive()
        return bool(check(argument))

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %d s; killing it", name, STOP_TIMEOUT_SECONDS)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            logger.info("stopped %s", name)
        self.processes.clear()
