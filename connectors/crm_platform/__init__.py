"""CRM_PLATFORM: HubSpot CRM v3 (contacts, companies, deals)."""

from connectors.crm_platform.connector import CrmPlatformConnector

__all__ = ["CrmPlatformConnector"]
