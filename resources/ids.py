"""Opaque, sortable, collision-resistant ids in the style of cuid (``c`` + time + randomness)."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.digits + string.ascii_lowercase


def _base36(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 36)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")[-width:]


def new_id() -> str:
    """Return a 25-character id: ``c``, 8 characters of milliseconds, 16 random characters."""
    millis = _base36(int(time.time() * 1000), 8)
    randomness = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return f"c{millis}{randomness}"
