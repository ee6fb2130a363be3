"""Free loopback ports and waiting for services to come up."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import requests


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], bool], *, timeout_seconds: float, what: str, interval_seconds: float = 0.2) -> None:
    """Poll ``check`` until it returns True, or raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(interval_seconds)
    raise TimeoutError(f"{what} did not come up within {timeout_seconds:.0f} s")


def http_ok(url: str) -> bool:
    session = requests.Session()
    session.trust_env = False
    return session.get(url, timeout=2).status_code == 200
