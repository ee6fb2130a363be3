"""Encryption at rest for credentials and webhook tokens.

A ciphertext reads ``v1.<key id>.<base64url(nonce || AES-256-GCM ciphertext)>``. The key id names the
key that sealed it, so a deployment can add a new key and still open values sealed with older ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from resources.settings import Settings

logger = logging.getLogger(__name__)

FORMAT_VERSION = "v1"
KEY_FILE_NAME = "secret.key"
NONCE_BYTES = 12


class VaultError(Exception):
    """A value could not be sealed or opened."""


def _derive_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"opbox-vault").derive(
        secret.encode()
    )


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"opbox-key-id" + key).hexdigest()[:8]


@dataclass(frozen=True)
class Vault:
    """Seals with the primary key and opens with any known key."""

    primary_key: bytes
    older_keys: tuple[bytes, ...] = ()

    @property
    def primary_key_id(self) -> str:
        return _key_id(self.primary_key)

    def _keys_by_id(self) -> dict[str, bytes]:
        keys = {_key_id(key): key for key in self.older_keys}
        keys[self.primary_key_id] = self.primary_key
        return keys

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.primary_key).encrypt(nonce, plaintext.encode(), None)
        payload = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{FORMAT_VERSION}.{self.primary_key_id}.{payload}"

    def decrypt(self, ciphertext: str) -> str:
        version, key_id, payload = (ciphertext.split(".", 2) + ["", ""])[:3]
        if version != FORMAT_VERSION or not payload:
            raise VaultError("stored secret is not in the v1 vault format; re-enter the credentials")
        key = self._keys_by_id().get(key_id)
        if key is None:
            raise VaultError(
                f"stored secret was sealed with key id {key_id}, which this deployment does not "
                "have; set OPBOX_PREVIOUS_SECRET_KEYS to the old key"
            )
        raw = base64.urlsafe_b64decode(payload)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
        except InvalidTag as error:
            raise VaultError(f"stored secret under key id {key_id} failed authentication") from error

    def encrypt_json(self, value: dict[str, Any]) -> str:
        return self.encrypt(json.dumps(value, sort_keys=True))

    def decrypt_json(self, ciphertext: str) -> dict[str, Any]:
        return json.loads(self.decrypt(ciphertext))

    def fingerprint(self, plaintext: str) -> str:
        """Return a short keyed digest that identifies a secret without revealing it."""
        return hmac.new(self.primary_key, plaintext.encode(), hashlib.sha256).hexdigest()[:4]


def _read_or_create_key_file(home: Path) -> str:
    path = home / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)
    return secret


def load_vault(settings: Settings) -> Vault:
    """Build the vault from ``OPBOX_SECRET_KEY``, or from a key file generated under ``OPBOX_HOME``."""
    secret = settings.secret_key
    if secret is None:
        logger.warning(
            "OPBOX_SECRET_KEY is not set; using the generated key file %s. Set OPBOX_SECRET_KEY "
            "in production and keep it out of the data folder.",
            settings.home / KEY_FILE_NAME,
        )
        secret = _read_or_create_key_file(settings.home)
    older = tuple(
        _derive_key(item.strip())
        for item in os.environ.get("OPBOX_PREVIOUS_SECRET_KEYS", "").split(",")
        if item.strip()
    )
    return Vault(primary_key=_derive_key(secret), older_keys=older)
