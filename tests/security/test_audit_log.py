"""Audit entries of connection changes: actor, key, address, target and details without secrets."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select

from connectors.emulators.hubspot.server import HubSpotEmulator
from resources.app_db.models import ApiKey, AuditEntry
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret
from resources.services.audit import OperatorActor, list_audit_entries, record_audit
from resources.settings import Settings
from tests.gateway.conftest import EMULATOR_TOKEN, Identities, bearer, connection_body, create_connection

CONNECTIONS = "/api/pipelines/connections"
NEW_TOKEN = "pat-eu1-rotated-0c6e2f9a7b13"


def entries(settings: Settings) -> list[AuditEntry]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.created_at, AuditEntry.id)))


def key_id(settings: Settings, key: str) -> str:
    with session_scope(settings.database_url) as session:
        record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(key)))
        assert record is not None
        return record.id


def test_connection_lifecycle_is_audited(
    client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.admin_key, emulator.base_url)
    updated = client.put(
        f"{CONNECTIONS}/{connection_id}",
        json={"name": "Renamed CRM", "credentials": {"apiKey": NEW_TOKEN}},
        headers=bearer(identities.owner_key),
    )
    deleted = client.delete(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.owner_key))
    assert updated.status_code == 200, updated.text
    assert deleted.status_code == 200, deleted.text

    found = entries(settings)

    assert [entry.action for entry in found] == ["CONNECTION_CREATE", "CONNECTION_UPDATE", "CONNECTION_DELETE"]
    assert [entry.actor_api_key_id for entry in found] == [
        key_id(settings, identities.admin_key),
        key_id(settings, identities.owner_key),
        key_id(settings, identities.owner_key),
    ]
    assert found[1].actor_user_id == identities.owner_user_id
    for entry in found:
        assert entry.target_type == "connection"
        assert entry.target_id == connection_id
        assert entry.workspace_id == identities.workspace_id
        assert entry.organisation_id == identities.organisation_id
        assert entry.source_ip == "testclient"
        assert entry.created_at is not None
    assert found[0].details == {"type": "CRM_PLATFORM", "name": "Production CRM"}
    assert found[1].details == {"fields": ["credentials", "name"]}
    assert found[2].details == {"name": "Renamed CRM"}
    assert EMULATOR_TOKEN not in repr([entry.details for entry in found])
    assert NEW_TOKEN not in repr([entry.details for entry in found])


def test_rejected_change_leaves_no_entry(
    client: TestClient[Any], settings: Settings, identities: Identities, emulator: HubSpotEmulator
) -> None:
    connection_id = create_connection(client, identities.owner_key, emulator.base_url)

    invalid = client.put(f"{CONNECTIONS}/{connection_id}", json={"name": ""}, headers=bearer(identities.owner_key))
    forbidden = client.delete(f"{CONNECTIONS}/{connection_id}", headers=bearer(identities.member_key))
    unknown_field = client.post(
        CONNECTIONS, json={**connection_body(emulator.base_url), "owner": "me"}, headers=bearer(identities.owner_key)
    )

    assert invalid.status_code == 400
    assert forbidden.status_code == 403
    assert unknown_field.status_code == 400
    assert [entry.action for entry in entries(settings)] == ["CONNECTION_CREATE"]


def test_list_is_newest_first_and_filtered(settings: Settings, identities: Identities) -> None:
    with session_scope(settings.database_url) as session:
        for number in range(3):
            actor = OperatorActor(identities.organisation_id, identities.workspace_id)
            record_audit(session, actor, "API_KEY_CREATE", target_type="api_key", target_id=f"key{number}")
        other = OperatorActor(None, identities.other_workspace_id)
        record_audit(session, other, "API_KEY_CREATE", target_type="api_key", target_id="other")

    with session_scope(settings.database_url) as session:
        main = [entry.target_id for entry in list_audit_entries(session, workspace_id=identities.workspace_id)]
        limited = [entry.target_id for entry in list_audit_entries(session, limit=2)]

    assert main == ["key2", "key1", "key0"]
    assert limited == ["other", "key2"]


def test_operator_entries_have_no_actor(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        record_audit(session, OperatorActor(), "SECRET_KEY_ROTATE", target_type="vault", target_id="ab12cd34")

    [entry] = entries(settings)

    assert entry.actor_user_id is None
    assert entry.actor_api_key_id is None
    assert entry.source_ip is None
