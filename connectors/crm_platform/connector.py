"""The CRM_PLATFORM connector: HubSpot CRM v3 with a private-app token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, ClassVar

import pyarrow as pa
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from connectors.arrow_records import JsonColumn, json_bodies_to_table, records_to_table
from connectors.base import (
    DELETED_AT_COLUMN,
    ConfigField,
    Connector,
    CredentialField,
    FieldSpec,
    HealthReport,
    StreamRead,
    StreamSpec,
)
from connectors.crm_platform.pages import Page, list_pages, search_pages
from connectors.crm_platform.schema import RECORD_FIELDS, RECORD_KEYS, declared_streams, property_field_type
from connectors.errors import ConnectorError
from connectors.http import ProviderRESTClient, build_rest_client
from connectors.prefetch import prefetch

DEFAULT_BASE_URL = "https://api.hubapi.com"
_RECORD_FIELD_NAMES = {item.name for item in RECORD_FIELDS} | RECORD_KEYS
# Pages are converted to Arrow in batches: fewer, larger tables cost less per row in pyarrow and dlt.
ROWS_PER_TABLE = 5_000


def parse_instant(value: str | None) -> datetime | None:
    """Parse HubSpot's ISO-8601 timestamps (``...Z``) or epoch milliseconds into aware datetimes."""
    if value is None or value == "":
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class CrmPlatformConnector(Connector):
    type: ClassVar[str] = "CRM_PLATFORM"
    display_name: ClassVar[str] = "CRM Platform"
    category: ClassVar[str] = "CRM"
    provider: ClassVar[str] = "HubSpot CRM v3"
    credential_fields = (
        CredentialField("apiKey", help="HubSpot private app access token (starts with pat-)"),
    )
    config_fields = (
        ConfigField("baseUrl", default=DEFAULT_BASE_URL, help="API base URL; change it only for a regional endpoint or an emulator"),
        ConfigField("createOwnTables", type="boolean", default=False, help="give this variant its own tables"),
    )
    streams = declared_streams()

    def __init__(self, credentials: dict[str, Any], config: dict[str, Any]) -> None:
        super().__init__(credentials, config)
        self.base_url = str(self.config.get("baseUrl") or DEFAULT_BASE_URL).rstrip("/")
        self._client: ProviderRESTClient | None = None
        self._properties: dict[str, list[dict[str, Any]]] = {}

    @property
    def client(self) -> ProviderRESTClient:
        if self._client is None:
            token = self.credentials["apiKey"]
            self._client = build_rest_client(
                self.base_url, BearerTokenAuth(token), secrets=(token,)
            )
        return self._client

    def _fetch_properties(self, object_type: str) -> list[dict[str, Any]]:
        if object_type not in self._properties:
            response = self.client.session.get(
                f"{self.base_url}/crm/v3/properties/{object_type}", auth=self.client.auth
            )
            self._properties[object_type] = self.client.extract_response(response, "results")
        return self._properties[object_type]

    def test_credentials(self) -> None:
        self._fetch_properties("contacts")

    def check(self) -> HealthReport:
        started = time.perf_counter()
        try:
            self._fetch_properties("contacts")
        except ConnectorError as error:
            elapsed = (time.perf_counter() - started) * 1000
            return HealthReport(False, str(error), round(elapsed, 1))
        elapsed = (time.perf_counter() - started) * 1000
        return HealthReport(True, "HubSpot answered with the contacts schema", round(elapsed, 1))

    def discover(self) -> list[StreamSpec]:
        return [self.discover_stream(stream) for stream in self.streams]

    def discover_stream(self, stream: StreamSpec) -> StreamSpec:
        """Return ``stream`` with one field per HubSpot property, typed by the properties API."""
        fields = list(RECORD_FIELDS)
        for item in self._fetch_properties(stream.name):
            name = item.get("name")
            if not isinstance(name, str) or name in _RECORD_FIELD_NAMES:
                continue
            field_type = "string" if name == "hs_object_id" else property_field_type(str(item.get("type")))
            fields.append(FieldSpec(name, field_type, str(item.get("label") or "")))
        return stream.with_fields(tuple(fields))

    def read(self, request: StreamRead, schema: StreamSpec) -> Iterator[pa.Table]:
        stream = request.stream.name
        properties = _property_names(schema)
        if request.start_cursor is None:
            pages = list_pages(self.client, stream, properties, archived=False)
        else:
            pages = search_pages(
                self.client, stream, properties, request.start_cursor, parse_cursor=parse_instant
            )
        yield from self._tables(pages, schema, request.warnings)

    def read_deleted(self, request: StreamRead, schema: StreamSpec) -> Iterator[pa.Table]:
        """Yield archived records, which HubSpot lists separately and never returns in searches."""
        pages = list_pages(self.client, request.stream.name, _property_names(schema), archived=True)
        for table in self._tables(pages, schema, request.warnings, deleted=True):
            yield table

    def _tables(
        self, pages: Iterator[Page], schema: StreamSpec, warnings: list[str], *, deleted: bool = False
    ) -> Iterator[pa.Table]:
        batch: list[Page] = []
        rows = 0
        for page in prefetch(pages):
            batch.append(page)
            rows += len(page.records)
            if rows >= ROWS_PER_TABLE:
                yield self._pages_to_table(batch, schema, warnings, deleted)
                batch, rows = [], 0
        if rows:
            yield self._pages_to_table(batch, schema, warnings, deleted)

    def _pages_to_table(self, pages: list[Page], schema: StreamSpec, warnings: list[str], deleted: bool) -> pa.Table:
        fields = list(schema.fields)
        if deleted:
            fields.append(FieldSpec(DELETED_AT_COLUMN, "datetime", source="archivedAt"))
        columns: list[JsonColumn] = [
            (item.name, _json_path(item), pa.bool_() if item.type == "boolean" and item.source_name in RECORD_KEYS else pa.string())
            for item in fields
        ]
        table = json_bodies_to_table(
            [page.body for page in pages],
            records_key="results",
            columns=columns,
            fields=fields,
            key_field=_key_name(schema),
            warnings=warnings,
        )
        if table is not None:
            return table
        records = [record for page in pages for record in page.records]
        return self._records_to_table(records, fields, _key_name(schema), warnings)

    def _records_to_table(
        self, records: list[dict[str, Any]], fields: list[FieldSpec], key_name: str, warnings: list[str]
    ) -> pa.Table:
        columns: dict[str, list[Any]] = {}
        for item in fields:
            path = _json_path(item)
            if len(path) == 1:
                columns[item.name] = [record.get(path[0]) for record in records]
            else:
                columns[item.name] = [(record.get("properties") or {}).get(path[1]) for record in records]
        return records_to_table(columns, fields, key_field=key_name, warnings=warnings)


def _json_path(item: FieldSpec) -> tuple[str, ...]:
    source = item.source_name
    return (source,) if source in RECORD_KEYS or source == "archivedAt" else ("properties", source)


def _property_names(schema: StreamSpec) -> list[str]:
    return [item.source_name for item in schema.fields if item.source_name not in RECORD_KEYS]


def _key_name(schema: StreamSpec) -> str:
    return schema.primary_key[0]
