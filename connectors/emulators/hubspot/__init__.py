"""Local emulator of HubSpot's CRM v3 API (contacts, companies, deals), standard library only.

Start one with ``start_hubspot_emulator(token)`` or ``python -m connectors.emulators.hubspot``.
"""

from __future__ import annotations

from .dataset import HubSpotDataset, RecordNotFoundError
from .record import Record
from .schema import PropertyExistsError, PropertyNotFoundError, PropertySpec
from .server import HubSpotEmulator, start_hubspot_emulator

__all__ = [
    "HubSpotDataset",
    "HubSpotEmulator",
    "PropertyExistsError",
    "PropertyNotFoundError",
    "PropertySpec",
    "Record",
    "RecordNotFoundError",
    "start_hubspot_emulator",
]
