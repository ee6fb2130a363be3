"""Input guards: body size, malformed JSON, field lengths, unknown fields and rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from api_gateway.rate_limits import AUTH_FAILURES_PER_MINUTE, WEBHOOK_DELIVERIES_PER_MINUTE, SlidingWindowLimiter, webhook_limiter
from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.settings import Settings
from resources.vault import load_vault
from tests.gateway.conftest import Identities, bearer, connection_body, create_connection

CONNECTIONS = "/api/pipelines/connections"
ONE_MIB = 1024 * 1024
ENVELOPE_KEYS = {"success", "error", "code", "details"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def json_headers(key: str) -> dict[str, str]:
    return {**bearer(key), "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", ""), ("PUT", "/{id}"), ("PATCH", "/{id}"), ("POST", "/{id}/webhook-url"), ("POST", "/{id}/runs")],
)
def test_body_over_one_mib_is_413(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, method: str, suffix: str
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    content = b'{"name": "' + b"x" * ONE_MIB + b'"}'

    response = client.request(
        method, CONNECTIONS + suffix.format(id=connection_id), content=content, headers=json_headers(identities.owner_key)
    )

    assert response.status_code == 413
    assert set(response.json()) == ENVELOPE_KEYS
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("content", [b"{", b"{'name': 1}", b'{"name": "a",}', b"\xff\xfe"])
def test_malformed_json_is_400(client: TestClient[Any], identities: Identities, content: bytes) -> None:
    response = client.post(CONNECTIONS, content=content, headers=json_headers(identities.owner_key))

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_JSON"
    assert set(response.json()) == ENVELOPE_KEYS


@pytest.mark.parametrize(
    ("name", "status"),
    [("", 400), ("   ", 400), ("x" * 256, 400), ("x" * 255, 201), ("x", 201)],
    ids=["empty", "blank", "256-chars", "255-chars", "1-char"],
)
def test_name_length_on_create(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, name: str, status: int
) -> None:
    response = client.post(CONNECTIONS, json=connection_body(emulator.base_url, name), headers=bearer(identities.owner_key))

    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["details"]["field"] == "name"


@pytest.mark.parametrize(("name", "status"), [("", 400), ("x" * 256, 400), ("x" * 255, 200)])
def test_name_length_on_update(
    client: TestClient[Any], identities: Identities, emulator: HubSpotEmulator, name: str, status: int
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    response = client.put(f"{CONNECTIONS}/{connection_id}", json={"name": name}, headers=bearer(identities.owner_key))

    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "", {"ownerId": "u1"}),
        ("PUT", "/{id}", {"webhookToken": "whk_mine"}),
        ("PATCH", "/{id}", {"cursor": None, "streams": ["contacts"]}),
        ("POST", "/{id}/variants", {"name": "CRM (EU)", "credentials": {"apiKey": "x"}}),
        ("POST", "/{id}/webhook-url", {"rotate": True}),
    ],
    ids=["create", "update", "cursor-reset", "variant", "webhook-url"],
)
def test_unknown_field_is_400_naming_it(
    client: TestClient[Any],
    identities: Identities,
    emulator: HubSpotEmulator,
    method: str,
    suffix: str,
    body: dict[str, Any],
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    known = connection_body(emulator.base_url, "Second CRM") if method == "POST" and not suffix else {}

    response = client.request(
        method, CONNECTIONS + suffix.format(id=connection_id), json={**known, **body}, headers=bearer(identities.owner_key)
    )

    unknown = sorted(set(body) - {"name", "cursor"})[0]
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["field"] == unknown
    assert unknown in response.json()["error"]


def test_rejected_create_stores_no_secret(
    client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    body = {**connection_body(emulator.base_url), "extra": 1}

    client.post(CONNECTIONS, json=body, headers=bearer(identities.owner_key))

    with session_scope(settings.database_url) as session:
        assert session.query(Connection).count() == 0


def test_failed_authentication_is_rate_limited(client: TestClient[Any], identities: Identities) -> None:
    clock = FakeClock()
    client.app.state.auth_failures = SlidingWindowLimiter(AUTH_FAILURES_PER_MINUTE, clock=clock)
    wrong = {"Authorization": "Bearer sk_wrong-key"}

    statuses = [client.get(CONNECTIONS, headers=wrong).status_code for _ in range(AUTH_FAILURES_PER_MINUTE)]
    clock.now += 15
    blocked = client.get(CONNECTIONS, headers=wrong)
    valid_while_blocked = client.get(CONNECTIONS, headers=bearer(identities.owner_key))
    clock.now += 46
    after_window = client.get(CONNECTIONS, headers=bearer(identities.owner_key))

    assert statuses == [401] * AUTH_FAILURES_PER_MINUTE
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "45"
    assert set(blocked.json()) == ENVELOPE_KEYS
    assert blocked.json()["code"] == "RATE_LIMITED"
    assert "sk_wrong-key" not in blocked.text
    assert valid_while_blocked.status_code == 429
    assert after_window.status_code == 200


def test_successful_requests_do_not_count(client: TestClient[Any], identities: Identities) -> None:
    for _ in range(AUTH_FAILURES_PER_MINUTE + 5):
        assert client.get(CONNECTIONS, headers=bearer(identities.viewer_key)).status_code == 200


def test_webhook_flood_is_rate_limited(
    client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    if not any(route.path.startswith("/api/pipelines/webhook/") for route in client.app.routes):
        pytest.skip("the webhook endpoint is not served by this build yet")
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        token = load_vault(settings).decrypt(connection.webhook_token_encrypted)
    webhook_limiter.reset()

    statuses = [
        client.post(f"/api/pipelines/webhook/{token}", json={"n": number}).status_code
        for number in range(WEBHOOK_DELIVERIES_PER_MINUTE)
    ]
    flooded = client.post(f"/api/pipelines/webhook/{token}", json={"n": "over"})
    webhook_limiter.reset()

    assert 429 not in statuses
    assert flooded.status_code == 429
    assert 1 <= int(flooded.headers["retry-after"]) <= 60
    assert flooded.json()["code"] == "RATE_LIMITED"
    assert token not in flooded.text


def test_limiter_slides_its_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 60, clock=clock)

    first = [limiter.check("token") for _ in range(3)]
    clock.now += 10
    fourth = limiter.check("token")
    other_key = limiter.check("other")
    clock.now += 50
    after_oldest_left = limiter.check("token")

    assert first == [None, None, None]
    assert fourth == 50
    assert other_key is None
    assert after_oldest_left is None


def test_rejected_events_do_not_extend_wait() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 60, clock=clock)
    limiter.check("token")

    waits = []
    for _ in range(5):
        clock.now += 10
        waits.append(limiter.check("token"))

    assert waits == [50, 40, 30, 20, 10]


def test_limiter_bounds_tracked_keys() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 60, max_keys=2, clock=clock)

    limiter.check("a")
    limiter.check("b")
    limiter.check("c")

    assert limiter.retry_after("a") is None
    assert limiter.retry_after("c") == 60


def test_limiter_rejects_invalid_limits() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0)
