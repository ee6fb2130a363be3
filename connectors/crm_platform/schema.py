"""HubSpot object types, their modification-time properties and the mapping of property types."""

from __future__ import annotations

from connectors.base import FieldSpec, FieldType, StreamSpec

# HubSpot names the last-modified property differently for contacts.
CURSOR_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

# Columns every record has besides its properties, in the order they appear in tables.
RECORD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("id", "string", "HubSpot record id"),
    FieldSpec("created_at", "datetime", "record creation time", source="createdAt"),
    FieldSpec("updated_at", "datetime", "record modification time", source="updatedAt"),
    FieldSpec("archived", "boolean", "true when the record is archived in HubSpot"),
)
# Record-level keys on the wire; every other field is read from the record's ``properties``.
RECORD_KEYS = frozenset(item.source_name for item in RECORD_FIELDS)

PROPERTY_TYPES: dict[str, FieldType] = {
    "string": "string",
    "enumeration": "string",
    "phone_number": "string",
    "number": "decimal",
    "datetime": "datetime",
    "date": "date",
    "bool": "boolean",
    "boolean": "boolean",
}

# Fields known before discovery, so streams have columns even before the first sync.
DECLARED_PROPERTIES: dict[str, tuple[FieldSpec, ...]] = {
    "contacts": (
        FieldSpec("email", "string"),
        FieldSpec("firstname", "string"),
        FieldSpec("lastname", "string"),
        FieldSpec("createdate", "datetime"),
        FieldSpec("lastmodifieddate", "datetime"),
    ),
    "companies": (
        FieldSpec("name", "string"),
        FieldSpec("domain", "string"),
        FieldSpec("createdate", "datetime"),
        FieldSpec("hs_lastmodifieddate", "datetime"),
    ),
    "deals": (
        FieldSpec("dealname", "string"),
        FieldSpec("amount", "decimal"),
        FieldSpec("dealstage", "string"),
        FieldSpec("createdate", "datetime"),
        FieldSpec("hs_lastmodifieddate", "datetime"),
    ),
}


def property_field_type(hubspot_type: str) -> FieldType:
    """Map a HubSpot property type to a field type; unknown types stay strings."""
    return PROPERTY_TYPES.get(hubspot_type, "string")


def declared_streams() -> tuple[StreamSpec, ...]:
    return tuple(
        StreamSpec(
            name=object_type,
            primary_key=("id",),
            cursor_field=CURSOR_PROPERTY[object_type],
            fields=RECORD_FIELDS + DECLARED_PROPERTIES[object_type],
            sync_modes=("full_refresh", "incremental"),
        )
        for object_type in ("contacts", "companies", "deals")
    )
