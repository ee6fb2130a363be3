"""The connector catalogue: every type the contract names, and which ones this build can sync."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import Connector
from connectors.crm_platform import CrmPlatformConnector
from connectors.errors import ConnectorError


class UnknownConnectorType(ConnectorError):
    code = "UNKNOWN_CONNECTOR_TYPE"


class ConnectorNotAvailable(ConnectorError):
    code = "CONNECTOR_NOT_AVAILABLE"


@dataclass(frozen=True)
class ConnectorType:
    type: str
    name: str
    category: str
    connector: type[Connector] | None

    @property
    def available(self) -> bool:
        return self.connector is not None


CATALOGUE: tuple[ConnectorType, ...] = (
    ConnectorType("CRM_PLATFORM", "CRM Platform", "CRM", CrmPlatformConnector),
    ConnectorType("ACCOUNTING", "Accounting Software", "Accounting", None),
    ConnectorType("PROJECT_MGMT", "Project Management", "Project Management", None),
    ConnectorType("SCHEDULING", "Scheduling Platform", "Scheduling", None),
    ConnectorType("DOC_SIGNING", "Document Signing", "Documents", None),
    ConnectorType("MEETINGS", "Meeting Transcription", "Meetings", None),
    ConnectorType("SUPPORT", "Customer Support", "Support", None),
    ConnectorType("MESSAGING", "WhatsApp Messaging", "WhatsApp", None),
    ConnectorType("REGISTRY", "Registry Service", "Registry", None),
    ConnectorType("DEV_PLATFORM", "Development Platform", "Development", None),
)
_BY_TYPE = {entry.type: entry for entry in CATALOGUE}


def connector_class(type_name: str) -> type[Connector]:
    """Return the connector class of ``type_name`` or raise saying why it cannot be used."""
    entry = _BY_TYPE.get(type_name)
    if entry is None:
        valid = ", ".join(item.type for item in CATALOGUE)
        raise UnknownConnectorType(f"type {type_name!r} is not a connector type; valid types: {valid}")
    if entry.connector is None:
        available = ", ".join(item.type for item in CATALOGUE if item.available)
        raise ConnectorNotAvailable(
            f"connector type {type_name} ({entry.name}) is not available yet in this build; "
            f"available types: {available}"
        )
    return entry.connector
