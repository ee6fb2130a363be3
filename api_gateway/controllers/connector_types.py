"""The connector catalogue: every connector type, its credential and config fields and streams."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from api_gateway.auth import requires_role
from api_gateway.serializers import connector_type_json
from connectors.registry import CATALOGUE


class ConnectorTypesController(Controller):
    path = "/connector-types"
    tags = ["connector types"]

    @get("/", guards=[requires_role("VIEWER")], summary="List connector types")
    async def list_connector_types(self) -> dict[str, Any]:
        return {"connectorTypes": [connector_type_json(entry) for entry in CATALOGUE]}
