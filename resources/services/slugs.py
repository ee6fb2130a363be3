"""Slugs that are valid in Dagster names: lower-case letters, digits and underscores."""

from __future__ import annotations

from collections.abc import Callable

from resources.destination import snake_case

MAX_SLUG_CHARS = 40


def unique_slug(name: str, exists: Callable[[str], bool]) -> str:
    """Return the snake_case slug of ``name``, suffixed ``_2``, ``_3``… until ``exists`` is False."""
    base = snake_case(name)[:MAX_SLUG_CHARS].strip("_") or "unnamed"
    if base[0].isdigit():
        base = f"n_{base}"
    candidate = base
    counter = 2
    while exists(candidate):
        candidate = f"{base}_{counter}"
        counter += 1
    return candidate
