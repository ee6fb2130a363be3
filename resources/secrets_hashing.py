"""Generation and hashing of bearer secrets: API keys and webhook tokens."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "sk_"
API_KEY_VISIBLE_CHARS = 8
# 32 bytes of randomness: 256 bits, above the 128-bit floor for bearer secrets.
TOKEN_BYTES = 32


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """Return ``(key, visible prefix, hash)`` for a new API key; only the hash is stored."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return key, key[: len(API_KEY_PREFIX) + API_KEY_VISIBLE_CHARS], hash_secret(key)


def new_webhook_token() -> str:
    return "whk_" + secrets.token_urlsafe(TOKEN_BYTES)
