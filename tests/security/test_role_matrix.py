"""Every route × every kind of caller: which role each endpoint needs, read from the app's route table.

The table ``ROUTES`` is the decided role matrix. ``test_every_route_has_decided_role`` fails when the
app gains a route that the table does not decide, so a new endpoint cannot ship without a role.
Routes of the table that the app does not have yet are skipped, not failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api_gateway.app import create_app
from api_gateway.sync_launch import launch_sync, target_of
from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import Connection, SyncRun, Workspace
from resources.app_db.session import session_scope
from resources.services.connections import get_connection
from resources.settings import Settings
from tests.gateway.conftest import (
    EMULATOR_TOKEN,
    ClientFactory,
    Identities,
    RecordingDagster,
    bearer,
    connection_body,
    create_connection,
)

PUBLIC = "PUBLIC"
# Authenticated by a credential of its own (webhook token, cron secret, OAuth state), not an API key.
OWN_AUTH = "OWN_AUTH"
ROLES = ("OWNER", "ADMIN", "MEMBER", "VIEWER")
ROLE_RANK = {"VIEWER": 1, "MEMBER": 2, "ADMIN": 3, "OWNER": 4}
CALLERS = (*ROLES, "OTHER_WORKSPACE", "NO_KEY")
CREATED_NAME = "Matrix CRM"
# The status the tests accept from OAuth routes, whose bodies this file does not build.
ANY_STATUS = None


@dataclass(frozen=True)
class Fixture:
    """What a case can refer to: the ids in its path and the base URL of the emulator."""

    connection_id: str
    run_id: str
    base_url: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    minimum: str
    # Status for a caller with the role; None accepts any status but 401, 403 and 404.
    success: int | None = 200
    # True when the route acts on one connection, which another workspace must not find.
    scoped: bool = True
    body: Callable[[Fixture], Any] | None = field(default=None, compare=False)


CONNECTIONS = "/api/pipelines/connections"
ONE = f"{CONNECTIONS}/:id"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", PUBLIC, scoped=False),
    Route("GET", "/api/pipelines/connector-types", "VIEWER", scoped=False),
    Route("GET", CONNECTIONS, "VIEWER", scoped=False),
    Route(
        "POST",
        CONNECTIONS,
        "ADMIN",
        success=201,
        scoped=False,
        body=lambda fixture: connection_body(fixture.base_url, CREATED_NAME),
    ),
    Route(
        "POST",
        f"{CONNECTIONS}/test",
        "MEMBER",
        scoped=False,
        body=lambda fixture: {
            "type": "CRM_PLATFORM",
            "credentials": {"apiKey": EMULATOR_TOKEN},
            "config": {"baseUrl": fixture.base_url},
        },
    ),
    Route("GET", ONE, "VIEWER"),
    Route("PUT", ONE, "ADMIN", body=lambda fixture: {"name": "Renamed CRM"}),
    Route("PATCH", ONE, "ADMIN", body=lambda fixture: {"stream": "contacts", "cursor": None}),
    Route("DELETE", ONE, "ADMIN"),
    Route("POST", f"{ONE}/check", "MEMBER"),
    Route("POST", f"{ONE}/discover", "MEMBER"),
    Route("GET", f"{ONE}/runs", "VIEWER"),
    Route("POST", f"{ONE}/runs", "MEMBER", success=201, body=lambda fixture: {"streams": ["contacts"]}),
    Route("GET", f"{ONE}/runs/:runId", "VIEWER"),
    Route("POST", f"{ONE}/runs/:runId", "MEMBER"),
    Route("GET", f"{ONE}/tables/:stream/rows", "VIEWER"),
    Route("POST", f"{ONE}/variants", "ADMIN", success=201, body=lambda fixture: {"name": "CRM (EU)", "variantLabel": "EU"}),
    Route("POST", f"{ONE}/webhook-url", "ADMIN"),
    Route("POST", "/api/pipelines/run-all", "ADMIN", success=201, scoped=False, body=lambda fixture: {}),
    Route("GET", "/api/pipelines/cron", OWN_AUTH, scoped=False),
    Route("POST", "/api/pipelines/webhook/:token", OWN_AUTH, scoped=False),
    Route("POST", "/api/pipelines/oauth/:connector/authorize", "ADMIN", success=ANY_STATUS, scoped=False, body=lambda fixture: {}),
    Route("GET", "/api/pipelines/oauth/:connector/callback", OWN_AUTH, scoped=False),
    Route("POST", "/api/pipelines/oauth/:connector/exchange", "ADMIN", success=ANY_STATUS, scoped=False, body=lambda fixture: {}),
)

_CONTRACT_PARAMETER = re.compile(r":\w+")
_LITESTAR_PARAMETER = re.compile(r"\{[^}]+\}")


def route_shape(path: str) -> str:
    """Return the path with every parameter replaced by ``{}``, so parameter names do not matter."""
    return _CONTRACT_PARAMETER.sub("{}", _LITESTAR_PARAMETER.sub("{}", path))


def app_routes(app: Litestar) -> dict[tuple[str, str], dict[str, Any]]:
    """Return ``(method, shape) -> handler opt`` of every API route, without OPTIONS and HEAD."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            for method in getattr(handler, "http_methods", ()):
                if method not in ("OPTIONS", "HEAD"):
                    found[(method, route_shape(route.path))] = dict(handler.opt)
    return found


@pytest.fixture
def routes_of_app(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    return app_routes(create_app(settings))


def concrete_path(route: Route, fixture: Fixture) -> str:
    return (
        route.path.replace(":id", fixture.connection_id)
        .replace(":runId", fixture.run_id)
        .replace(":stream", "contacts")
        .replace(":connector", "CRM_PLATFORM")
        .replace(":token", "whk_unknown")
    )


def key_of(caller: str, identities: Identities, sibling_admin_key: str) -> str | None:
    keys = {
        "OWNER": identities.owner_key,
        "ADMIN": identities.admin_key,
        "MEMBER": identities.member_key,
        "VIEWER": identities.viewer_key,
        "OTHER_WORKSPACE": sibling_admin_key,
    }
    return keys.get(caller)


def create_fixture(
    client: TestClient[Any], settings: Settings, identities: Identities, base_url: str, *, with_run: bool = True
) -> Fixture:
    """Create a connection and, when ``with_run``, an active (PENDING) run that the stop route can cancel.

    Routes that refuse to act on a busy connection (trigger, cursor reset) get no run.
    """
    connection_id = create_connection(client, identities.owner_key, base_url)
    if not with_run:
        return Fixture(connection_id, "no-run", base_url)
    with session_scope(settings.database_url) as session:
        connection = get_connection(session, identities.workspace_id, connection_id)
        target = target_of(connection, identities.workspace_slug)
    run_id = launch_sync(settings, RecordingDagster(), target, trigger="MANUAL", streams=["contacts"])
    return Fixture(connection_id, run_id, base_url)


def expected_status(route: Route, caller: str) -> int | None:
    """Return the status that ``caller`` must get, or None for "any status but 401, 403 and 404"."""
    if route.minimum == PUBLIC:
        return 200
    if caller == "NO_KEY":
        return 401
    if caller == "OTHER_WORKSPACE":
        # A workspace-level ADMIN elsewhere: a connection of this workspace is not found, while
        # collection routes act on the caller's own workspace.
        if route.scoped:
            return 404
        return route.success if ROLE_RANK["ADMIN"] >= ROLE_RANK[route.minimum] else 403
    return route.success if ROLE_RANK[caller] >= ROLE_RANK[route.minimum] else 403


MATRIX_CASES = [
    pytest.param(route, caller, id=f"{route.method} {route.path} as {caller}")
    for route in ROUTES
    if route.minimum != OWN_AUTH
    for caller in CALLERS
]


@pytest.mark.parametrize(("route", "caller"), MATRIX_CASES)
def test_role_matrix(
    make_client: ClientFactory,
    settings: Settings,
    identities: Identities,
    sibling_admin_key: str,
    emulator: HubSpotEmulator,
    routes_of_app: dict[tuple[str, str], dict[str, Any]],
    route: Route,
    caller: str,
) -> None:
    if (route.method, route_shape(route.path)) not in routes_of_app:
        pytest.skip(f"{route.method} {route.path} is not served by this build yet")
    client = make_client(dagster=RecordingDagster())
    fixture = create_fixture(client, settings, identities, emulator.base_url, with_run=":runId" in route.path)
    key = key_of(caller, identities, sibling_admin_key)
    headers = bearer(key) if key else {}
    body = route.body(fixture) if route.body else None

    response = client.request(route.method, concrete_path(route, fixture), json=body, headers=headers)

    expected = expected_status(route, caller)
    if expected is None:
        assert response.status_code not in (401, 403, 404), response.text
    else:
        assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["code"] == "FORBIDDEN"
        assert response.json()["details"]["requiredRole"] == route.minimum
    if expected == 404:
        assert response.json()["code"] == "NOT_FOUND"
    if expected == 401:
        assert response.json()["code"] == "UNAUTHORISED"


def connection_snapshot(settings: Settings, fixture: Fixture) -> tuple[Any, ...]:
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, fixture.connection_id)
        run = session.get(SyncRun, fixture.run_id)
        assert connection is not None
        assert run is not None
        return (
            connection.name,
            connection.config,
            connection.webhook_token_hash,
            connection.sync_state,
            connection.credentials_encrypted,
            run.status,
        )


@pytest.mark.parametrize("caller", ["VIEWER", "MEMBER", "OTHER_WORKSPACE"])
def test_refused_calls_change_nothing(
    make_client: ClientFactory,
    settings: Settings,
    identities: Identities,
    sibling_admin_key: str,
    emulator: HubSpotEmulator,
    routes_of_app: dict[tuple[str, str], dict[str, Any]],
    caller: str,
) -> None:
    """Every change the caller may not make gets 403 or 404 and leaves the connection as it was."""
    client = make_client(dagster=RecordingDagster())
    fixture = create_fixture(client, settings, identities, emulator.base_url)
    before = connection_snapshot(settings, fixture)
    headers = bearer(key_of(caller, identities, sibling_admin_key) or "")
    refused = [
        route
        for route in ROUTES
        if route.method != "GET"
        and route.minimum in ROLE_RANK
        and (route.method, route_shape(route.path)) in routes_of_app
        and expected_status(route, caller) in (403, 404)
    ]

    for route in refused:
        body = route.body(fixture) if route.body else None
        response = client.request(route.method, concrete_path(route, fixture), json=body, headers=headers)
        assert response.status_code == expected_status(route, caller), f"{route.method} {route.path}: {response.text}"

    assert refused
    assert connection_snapshot(settings, fixture) == before


def test_every_route_has_decided_role(routes_of_app: dict[tuple[str, str], dict[str, Any]]) -> None:
    decided = {(route.method, route_shape(route.path)) for route in ROUTES}

    undecided = sorted(set(routes_of_app) - decided)

    assert undecided == [], f"routes without a decided role; add them to ROUTES: {undecided}"


def test_auth_exclusion_matches_matrix(
    routes_of_app: dict[tuple[str, str], dict[str, Any]],
) -> None:
    minimum = {(route.method, route_shape(route.path)): route.minimum for route in ROUTES}

    for route, opt in routes_of_app.items():
        excluded = bool(opt.get("exclude_from_auth"))
        if minimum.get(route) == OWN_AUTH:
            assert excluded, f"{route} has its own credential and must not need an API key"
        elif minimum.get(route) in ROLE_RANK:
            assert not excluded, f"{route} needs an API key but is excluded from authentication"


def test_other_workspace_header_is_not_found(
    make_client: ClientFactory,
    settings: Settings,
    identities: Identities,
    sibling_admin_key: str,
    emulator: HubSpotEmulator,
    routes_of_app: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Naming this workspace in the header does not help a caller who is not a member of it."""
    client = make_client(dagster=RecordingDagster())
    fixture = create_fixture(client, settings, identities, emulator.base_url)
    with session_scope(settings.database_url) as session:
        slug = session.get(Workspace, identities.workspace_id).slug  # type: ignore[union-attr]

    for route in ROUTES:
        if route.minimum in (PUBLIC, OWN_AUTH) or (route.method, route_shape(route.path)) not in routes_of_app:
            continue
        response = client.request(
            route.method,
            concrete_path(route, fixture),
            json=route.body(fixture) if route.body else None,
            headers=bearer(sibling_admin_key, slug),
        )
        assert response.status_code == 404, f"{route.method} {route.path}: {response.text}"
        assert response.json()["code"] == "WORKSPACE_NOT_FOUND"
