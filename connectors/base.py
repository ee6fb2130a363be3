"""What a connector declares (credential fields, config fields, streams) and what it provides.

A connector is mostly declarative: its streams, their primary keys, cursor fields and field types.
The framework in ``opbox_dagster.sync`` runs every connector the same way, so cursor handling,
run accounting and schema evolution are written once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Literal

import pyarrow as pa

from connectors.errors import InvalidCredentials, UnknownStream

# Set on rows the provider reports as deleted; rows are marked, never dropped.
DELETED_AT_COLUMN = "_opbox_deleted_at"

FieldType = Literal["string", "integer", "decimal", "boolean", "datetime", "date", "json"]
SyncMode = Literal["full_refresh", "incremental"]


@dataclass(frozen=True)
class FieldSpec:
    """A column: ``name`` in the table, ``source`` the provider's field name when they differ."""

    name: str
    type: FieldType
    description: str = ""
    source: str = ""

    @property
    def source_name(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class CredentialField:
    name: str
    type: Literal["string"] = "string"
    secret: bool = True
    required: bool = True
    help: str = ""


@dataclass(frozen=True)
class ConfigField:
    name: str
    type: Literal["string", "boolean", "integer"] = "string"
    required: bool = False
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class StreamSpec:
    """One stream of records; ``cursor_field`` is the timestamp incremental reads filter on."""

    name: str
    primary_key: tuple[str, ...]
    cursor_field: str | None
    fields: tuple[FieldSpec, ...] = ()
    sync_modes: tuple[SyncMode, ...] = ("full_refresh",)

    def with_fields(self, fields: tuple[FieldSpec, ...]) -> StreamSpec:
        return replace(self, fields=fields)


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    message: str
    latency_ms: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamRead:
    """How to read one stream in a run: from ``start_cursor`` inclusive, or everything if None."""

    stream: StreamSpec
    start_cursor: datetime | None
    # Values nulled because they could not be stored, one message each (row key and field).
    warnings: list[str] = field(default_factory=list)


class Connector(ABC):
    """A provider's connector; instances hold one connection's decrypted credentials and config."""

    type: ClassVar[str]
    display_name: ClassVar[str]
    category: ClassVar[str]
    provider: ClassVar[str]
    credential_fields: ClassVar[tuple[CredentialField, ...]]
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    streams: ClassVar[tuple[StreamSpec, ...]]

    def __init__(self, credentials: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        self.credentials = dict(credentials)
        self.config = dict(config)

    @classmethod
    def validate_credentials(cls, credentials: Any) -> dict[str, str]:
        """Check the credentials' shape (not their validity at the provider) and return them."""
        if not isinstance(credentials, dict):
            raise InvalidCredentials("credentials must be a JSON object", field="credentials")
        declared = {item.name: item for item in cls.credential_fields}
        for name in credentials:
            if name not in declared:
                raise InvalidCredentials(
                    f"credentials.{name} is not a credential of {cls.type}; expected "
                    f"{', '.join(sorted(declared))}",
                    field=f"credentials.{name}",
                )
        for item in cls.credential_fields:
            value = credentials.get(item.name)
            if value is None and not item.required:
                continue
            if not isinstance(value, str) or not value.strip():
                raise InvalidCredentials(
                    f"credentials.{item.name} is required and must be a non-empty string",
                    field=f"credentials.{item.name}",
                )
        return {name: value for name, value in credentials.items() if value is not None}

    @classmethod
    def stream_spec(cls, name: str) -> StreamSpec:
        for stream in cls.streams:
            if stream.name == name:
                return stream
        valid = ", ".join(stream.name for stream in cls.streams)
        raise UnknownStream(f"stream {name!r} does not exist for {cls.type}; valid streams: {valid}")

    @abstractmethod
    def test_credentials(self) -> None:
        """Raise ``CredentialsRejected`` or ``ProviderError`` unless the provider accepts them."""

    @abstractmethod
    def check(self) -> HealthReport:
        """Probe the provider with the connection's credentials and report its health."""

    @abstractmethod
    def discover(self) -> list[StreamSpec]:
        """Return the streams with their fields as the provider describes them now."""

    def read_deleted(self, request: StreamRead, schema: StreamSpec) -> Iterator[pa.Table]:
        """Yield records the provider reports as deleted, with a ``DELETED_AT_COLUMN`` timestamp.

        Connectors whose provider reports no deletions keep this default, which yields nothing.
        """
        return iter(())

    @abstractmethod
    def read(self, request: StreamRead, schema: StreamSpec) -> Iterator[pa.Table]:
        """Yield the stream's records as Arrow tables, one per provider page.

        ``schema`` is the discovered stream (fields filled in) so values arrive typed. Records must
        carry the primary key and, for incremental reads, the cursor field.
        """
