"""Names of Dagster objects derived from workspace and connection slugs."""

from __future__ import annotations


def group_name(workspace_slug: str, connection_slug: str) -> str:
    return f"{workspace_slug}__{connection_slug}"


def job_name(workspace_slug: str, connection_slug: str) -> str:
    return f"sync__{workspace_slug}__{connection_slug}"


def op_name(workspace_slug: str, connection_slug: str) -> str:
    return f"sync_streams__{workspace_slug}__{connection_slug}"
