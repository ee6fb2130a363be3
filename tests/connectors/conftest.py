"""Connector tests reach emulators over plain http on 127.0.0.1, which the outbound guard allows
only when the deployment allows it."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def allow_local_emulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPBOX_ALLOW_PRIVATE_NETWORK", "1")
