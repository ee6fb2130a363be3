"""Re-encryption of every stored secret under the vault's primary key.

Rotation runs while the gateway and Dagster keep serving. Every process must already have the
new key as ``OPBOX_SECRET_KEY`` and the old one in ``OPBOX_PREVIOUS_SECRET_KEYS``, so each of
them opens values sealed with either key while this runs and seals new values with the new key.
Each connection is rewritten in its own short transaction, and only if its ciphertext is still the
one that was read, so a credential saved meanwhile is never overwritten with an older value.
Rotation is idempotent: values already under the primary key are skipped, and a second run
finishes the work of an interrupted one.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select, update

from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.vault import Vault, VaultError

logger = logging.getLogger(__name__)

# Passes over the connections. A value that changes during rotation is retried in the next pass.
MAX_PASSES = 3
SECRET_COLUMNS = ("credentials_encrypted", "webhook_token_encrypted")


@dataclass
class RotationReport:
    """Counts of one rotation. ``failed`` lists ``(connection id, column, reason)``, without values."""

    primary_key_id: str
    reencrypted: int = 0
    already_current: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed


def key_id_of(ciphertext: str) -> str:
    """Return the key id in a ``v1.<key id>.<payload>`` ciphertext, or ``unknown``."""
    parts = ciphertext.split(".", 2)
    return parts[1] if len(parts) == 3 and parts[1] else "unknown"


def count_by_key(database_url: str) -> Counter[str]:
    """Return how many stored secrets each key id seals, for a dry run or a final check."""
    counts: Counter[str] = Counter()
    with session_scope(database_url) as session:
        for credentials, token in session.execute(
            select(Connection.credentials_encrypted, Connection.webhook_token_encrypted)
        ):
            counts[key_id_of(credentials)] += 1
            counts[key_id_of(token)] += 1
    return counts


def _rotate_value(database_url: str, vault: Vault, connection_id: str, column: str, old: str) -> bool:
    """Re-encrypt one value unless it changed since it was read, and return whether it was written."""
    new = vault.encrypt(vault.decrypt(old))
    attribute = getattr(Connection, column)
    with session_scope(database_url) as session:
        written = session.execute(
            update(Connection)
            .where(Connection.id == connection_id, attribute == old)
            .values({column: new})
            .execution_options(synchronize_session=False)
        ).rowcount
    return bool(written)


def _stale_values(database_url: str, primary_key_id: str) -> list[tuple[str, str, str]]:
    """Return ``(connection id, column, ciphertext)`` of every value not under the primary key."""
    stale = []
    with session_scope(database_url) as session:
        rows = session.execute(
            select(Connection.id, Connection.credentials_encrypted, Connection.webhook_token_encrypted)
        )
        for connection_id, *values in rows:
            for column, value in zip(SECRET_COLUMNS, values):
                if key_id_of(value) != primary_key_id:
                    stale.append((connection_id, column, value))
    return stale


def rotate_secrets(database_url: str, vault: Vault) -> RotationReport:
    """Re-encrypt credentials and webhook tokens under ``vault``'s primary key and report the counts."""
    report = RotationReport(primary_key_id=vault.primary_key_id)
    logger.info("secret key rotation to key id %s started", vault.primary_key_id)
    unreadable: dict[tuple[str, str], str] = {}
    for attempt in range(1, MAX_PASSES + 1):
        stale = [item for item in _stale_values(database_url, vault.primary_key_id) if item[:2] not in unreadable]
        if not stale:
            break
        for connection_id, column, value in stale:
            try:
                written = _rotate_value(database_url, vault, connection_id, column, value)
            except VaultError as error:
                logger.error("connection %s %s could not be re-encrypted: %s", connection_id, column, error)
                unreadable[(connection_id, column)] = str(error)
                continue
            if written:
                report.reencrypted += 1
            else:
                logger.info("connection %s %s changed during rotation; retrying (pass %d)", connection_id, column, attempt)
    report.failed = [(connection_id, column, reason) for (connection_id, column), reason in unreadable.items()]
    for connection_id, column, value in _stale_values(database_url, vault.primary_key_id):
        if (connection_id, column) not in unreadable:
            report.failed.append((connection_id, column, f"still sealed with key id {key_id_of(value)} after {MAX_PASSES} passes"))
    report.already_current = sum(count_by_key(database_url).values()) - report.reencrypted - len(report.failed)
    logger.info(
        "secret key rotation to key id %s stopped: %d re-encrypted, %d already current, %d failed",
        vault.primary_key_id,
        report.reencrypted,
        report.already_current,
        len(report.failed),
    )
    return report
