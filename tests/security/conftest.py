"""Fixtures of the security tests, built on the gateway tests' app database and callers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.app_db.session import session_scope
from resources.services.identity import add_membership, create_api_key, create_workspace, get_or_create_user
from resources.settings import Settings
from tests.gateway.conftest import (  # noqa: F401 - fixtures are found by name
    EMULATOR_TOKEN,
    client,
    identities,
    make_client,
    settings,
    template_database,
)
from tests.gateway.conftest import Identities

SIBLING_ADMIN_EMAIL = "sibling.admin@acme.example"


@pytest.fixture(scope="module")
def emulator() -> Iterator[HubSpotEmulator]:
    """One HubSpot emulator per module; the security tests only read from it."""
    with start_hubspot_emulator(EMULATOR_TOKEN) as running:
        yield running


@pytest.fixture
def sibling_admin_key(settings: Settings, identities: Identities) -> str:
    """Return the key of an ADMIN of another workspace of the same organisation, not of ``main``."""
    with session_scope(settings.database_url) as session:
        sibling = create_workspace(session, identities.organisation_id, "Sibling")
        user = get_or_create_user(session, SIBLING_ADMIN_EMAIL)
        add_membership(session, user.id, identities.organisation_id, "ADMIN", sibling.id)
        _, key = create_api_key(session, user.id, sibling.id, name="sibling admin key")
    return key
