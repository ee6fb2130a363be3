"""Secret key rotation: every credential and webhook token moves to the new key, with both keys readable meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from opbox_cli.main import main
from resources.app_db.models import AuditEntry, Connection
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret
from resources.services import key_rotation
from resources.services.connections import ConnectionInput, create_connection
from resources.services.key_rotation import count_by_key, key_id_of, rotate_secrets
from resources.settings import Settings, load_settings
from resources.vault import Vault, VaultError, load_vault
from tests.gateway.conftest import Identities

OLD_KEY = "old-secret-key-3b0c1f"
NEW_KEY = "new-secret-key-9e7d2a"


def use_keys(monkeypatch: pytest.MonkeyPatch, primary: str, previous: str = "") -> Vault:
    monkeypatch.setenv("OPBOX_SECRET_KEY", primary)
    monkeypatch.setenv("OPBOX_PREVIOUS_SECRET_KEYS", previous)
    return load_vault(load_settings())


def add_connections(settings: Settings, identities: Identities, vault: Vault, count: int) -> list[str]:
    ids = []
    with session_scope(settings.database_url) as session:
        for number in range(count):
            data = ConnectionInput(
                name=f"CRM {number}",
                type="CRM_PLATFORM",
                credentials={"apiKey": f"pat-rotation-{number}"},
                config={},
                schedule=None,
                notify_user_ids=[],
            )
            ids.append(create_connection(session, vault, workspace_id=identities.workspace_id, data=data, created_by_user_id=None).id)
    return ids


def stored(settings: Settings, connection_id: str) -> Connection:
    with session_scope(settings.database_url) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        return connection


def test_rotation_moves_every_secret(settings: Settings, identities: Identities, monkeypatch: pytest.MonkeyPatch) -> None:
    old_vault = use_keys(monkeypatch, OLD_KEY)
    ids = add_connections(settings, identities, old_vault, 3)
    tokens = {connection_id: old_vault.decrypt(stored(settings, connection_id).webhook_token_encrypted) for connection_id in ids}
    new_vault = use_keys(monkeypatch, NEW_KEY, OLD_KEY)

    report = rotate_secrets(settings.database_url, new_vault)

    assert report.reencrypted == 6
    assert report.already_current == 0
    assert report.failed == []
    assert count_by_key(settings.database_url) == {new_vault.primary_key_id: 6}
    new_only = Vault(primary_key=new_vault.primary_key)
    for number, connection_id in enumerate(ids):
        connection = stored(settings, connection_id)
        assert new_only.decrypt_json(connection.credentials_encrypted) == {"apiKey": f"pat-rotation-{number}"}
        assert new_only.decrypt(connection.webhook_token_encrypted) == tokens[connection_id]
        assert connection.webhook_token_hash == hash_secret(tokens[connection_id])
        with pytest.raises(VaultError):
            Vault(primary_key=old_vault.primary_key).decrypt(connection.credentials_encrypted)


def test_both_keys_open_values_during_rotation(
    settings: Settings, identities: Identities, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_vault = use_keys(monkeypatch, OLD_KEY)
    [old_id] = add_connections(settings, identities, old_vault, 1)
    new_vault = use_keys(monkeypatch, NEW_KEY, OLD_KEY)
    [new_id] = add_connections(settings, identities, new_vault, 1)

    old_credentials = new_vault.decrypt_json(stored(settings, old_id).credentials_encrypted)
    new_credentials = new_vault.decrypt_json(stored(settings, new_id).credentials_encrypted)

    assert old_credentials == {"apiKey": "pat-rotation-0"}
    assert new_credentials == {"apiKey": "pat-rotation-0"}
    assert key_id_of(stored(settings, old_id).credentials_encrypted) == old_vault.primary_key_id
    assert key_id_of(stored(settings, new_id).credentials_encrypted) == new_vault.primary_key_id


def test_rotation_is_idempotent(settings: Settings, identities: Identities, monkeypatch: pytest.MonkeyPatch) -> None:
    add_connections(settings, identities, use_keys(monkeypatch, OLD_KEY), 2)
    new_vault = use_keys(monkeypatch, NEW_KEY, OLD_KEY)
    rotate_secrets(settings.database_url, new_vault)

    again = rotate_secrets(settings.database_url, new_vault)

    assert again.reencrypted == 0
    assert again.already_current == 4
    assert again.complete


def test_value_saved_during_rotation_is_kept(
    settings: Settings, identities: Identities, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credential saved by a gateway between the read and the write is neither lost nor left behind."""
    old_vault = use_keys(monkeypatch, OLD_KEY)
    [connection_id] = add_connections(settings, identities, old_vault, 1)
    new_vault = use_keys(monkeypatch, NEW_KEY, OLD_KEY)
    original = key_rotation._rotate_value
    interfered: list[str] = []

    def rotate_after_concurrent_save(database_url: str, vault: Vault, row_id: str, column: str, old: str) -> bool:
        if column == "credentials_encrypted" and not interfered:
            interfered.append(row_id)
            with session_scope(database_url) as session:
                connection = session.get(Connection, row_id)
                assert connection is not None
                # A gateway that still seals with the old key saves new credentials.
                connection.credentials_encrypted = old_vault.encrypt_json({"apiKey": "pat-saved-meanwhile"})
        return original(database_url, vault, row_id, column, old)

    monkeypatch.setattr(key_rotation, "_rotate_value", rotate_after_concurrent_save)

    report = rotate_secrets(settings.database_url, new_vault)

    connection = stored(settings, connection_id)
    assert interfered == [connection_id]
    assert report.complete
    assert key_id_of(connection.credentials_encrypted) == new_vault.primary_key_id
    assert new_vault.decrypt_json(connection.credentials_encrypted) == {"apiKey": "pat-saved-meanwhile"}


def test_unknown_key_is_reported(settings: Settings, identities: Identities, monkeypatch: pytest.MonkeyPatch) -> None:
    [connection_id] = add_connections(settings, identities, use_keys(monkeypatch, OLD_KEY), 1)
    new_vault = use_keys(monkeypatch, NEW_KEY)

    report = rotate_secrets(settings.database_url, new_vault)

    assert not report.complete
    assert {(row_id, column) for row_id, column, _ in report.failed} == {
        (connection_id, "credentials_encrypted"),
        (connection_id, "webhook_token_encrypted"),
    }
    assert all("OPBOX_PREVIOUS_SECRET_KEYS" in reason for _, _, reason in report.failed)


def test_rotate_key_command(
    settings: Settings, identities: Identities, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_connections(settings, identities, use_keys(monkeypatch, OLD_KEY), 2)
    new_vault = use_keys(monkeypatch, NEW_KEY, OLD_KEY)

    dry_run = main(["secrets", "rotate-key", "--dry-run"])
    dry_output = capsys.readouterr().out
    status = main(["secrets", "rotate-key"])
    output = capsys.readouterr().out

    assert dry_run == 0
    assert "4 secrets" in dry_output
    assert status == 0
    assert f"Re-encrypted 4 secrets under key id {new_vault.primary_key_id}" in output
    assert count_by_key(settings.database_url) == {new_vault.primary_key_id: 4}
    with session_scope(settings.database_url) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "SECRET_KEY_ROTATE"))
        assert entry is not None
        assert entry.details == {"reencrypted": 4, "alreadyCurrent": 0, "failed": 0}
    assert OLD_KEY not in output + dry_output
    assert NEW_KEY not in output + dry_output


def test_rotate_key_needs_secret_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[Any]
) -> None:
    monkeypatch.delenv("OPBOX_SECRET_KEY")

    status = main(["secrets", "rotate-key"])

    assert status == 1
    assert "OPBOX_SECRET_KEY is not set" in capsys.readouterr().err
