"""Property definitions of the emulated HubSpot object types.

The definitions follow the shape of HubSpot's CRM v3 properties API. Only the
fields a sync client reads are filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals")

# HubSpot also accepts the numeric object type ids in CRM v3 paths.
OBJECT_TYPE_ALIASES: dict[str, str] = {
    "contacts": "contacts",
    "companies": "companies",
    "deals": "deals",
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
}

# Name of the property that HubSpot updates on every change of a record.
LAST_MODIFIED_PROPERTY: dict[str, str] = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

_GROUP_NAME: dict[str, str] = {
    "contacts": "contactinformation",
    "companies": "companyinformation",
    "deals": "dealinformation",
}

_FIELD_TYPE: dict[str, str] = {
    "string": "text",
    "number": "number",
    "datetime": "date",
    "date": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}


@dataclass(frozen=True)
class PropertySpec:
    """Definition of one property of an object type."""

    name: str
    label: str
    type: str
    field_type: str = ""
    money: bool = False
    options: tuple[str, ...] = ()
    group_name: str = ""

    def to_wire(self) -> dict[str, Any]:
        """Return the definition as the properties endpoint sends it."""
        wire: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": "",
            "showCurrencySymbol": self.money,
            "hasUniqueValue": False,
            "calculated": False,
            "hidden": False,
            "formField": self.type != "datetime",
            "options": [
                {"label": value.replace("_", " ").title(), "value": value, "displayOrder": order, "hidden": False}
                for order, value in enumerate(self.options)
            ],
        }
        return wire


@dataclass(frozen=True)
class ObjectSchema:
    """Properties of one object type, in the order the properties endpoint lists them."""

    object_type: str
    properties: tuple[PropertySpec, ...]
    default_properties: tuple[str, ...]
    by_name: dict[str, PropertySpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {spec.name: spec for spec in self.properties})

    @property
    def last_modified_property(self) -> str:
        return LAST_MODIFIED_PROPERTY[self.object_type]

    @property
    def always_returned(self) -> tuple[str, ...]:
        """Properties returned even when a request names others."""
        return ("hs_object_id", "createdate", self.last_modified_property)


def _spec(object_type: str, name: str, label: str, type_: str, **extra: Any) -> PropertySpec:
    field_type = extra.pop("field_type", _FIELD_TYPE[type_])
    return PropertySpec(
        name=name,
        label=label,
        type=type_,
        field_type=field_type,
        group_name=_GROUP_NAME[object_type],
        **extra,
    )


LIFECYCLE_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

LEAD_STATUSES: tuple[str, ...] = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)

INDUSTRIES: tuple[str, ...] = (
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "RENEWABLES_ENVIRONMENT",
    "HIGHER_EDUCATION",
    "MARKETING_AND_ADVERTISING",
    "FOOD_BEVERAGES",
    "CONSTRUCTION",
)

DEAL_STAGES: tuple[str, ...] = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


def _contacts() -> ObjectSchema:
    t = "contacts"
    return ObjectSchema(
        object_type=t,
        properties=(
            _spec(t, "hs_object_id", "Record ID", "number"),
            _spec(t, "email", "Email", "string"),
            _spec(t, "firstname", "First Name", "string"),
            _spec(t, "lastname", "Last Name", "string"),
            _spec(t, "phone", "Phone Number", "string", field_type="phonenumber"),
            _spec(t, "company", "Company Name", "string"),
            _spec(t, "lifecyclestage", "Lifecycle Stage", "enumeration", field_type="radio", options=LIFECYCLE_STAGES),
            _spec(t, "createdate", "Create Date", "datetime"),
            _spec(t, "lastmodifieddate", "Last Modified Date", "datetime"),
            _spec(t, "hs_lead_status", "Lead Status", "enumeration", field_type="radio", options=LEAD_STATUSES),
            _spec(t, "num_notes", "Number of Sales Activities", "number"),
            _spec(t, "hs_is_unworked", "Contact unworked", "bool", options=("true", "false")),
            _spec(t, "date_of_birth", "Date of birth", "date"),
        ),
        default_properties=("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    )


def _companies() -> ObjectSchema:
    t = "companies"
    return ObjectSchema(
        object_type=t,
        properties=(
            _spec(t, "hs_object_id", "Record ID", "number"),
            _spec(t, "name", "Company name", "string"),
            _spec(t, "domain", "Company Domain Name", "string"),
            _spec(t, "industry", "Industry", "enumeration", options=INDUSTRIES),
            _spec(t, "city", "City", "string"),
            _spec(t, "country", "Country/Region", "string"),
            _spec(t, "numberofemployees", "Number of Employees", "number"),
            _spec(t, "annualrevenue", "Annual Revenue", "number", money=True),
            _spec(t, "createdate", "Create Date", "datetime"),
            _spec(t, "hs_lastmodifieddate", "Last Modified Date", "datetime"),
        ),
        default_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    )


def _deals() -> ObjectSchema:
    t = "deals"
    return ObjectSchema(
        object_type=t,
        properties=(
            _spec(t, "hs_object_id", "Record ID", "number"),
            _spec(t, "dealname", "Deal Name", "string"),
            _spec(t, "amount", "Amount", "number", money=True),
            _spec(t, "dealstage", "Deal Stage", "enumeration", options=DEAL_STAGES),
            _spec(t, "pipeline", "Pipeline", "enumeration", options=("default",)),
            _spec(t, "closedate", "Close Date", "datetime"),
            _spec(t, "createdate", "Create Date", "datetime"),
            _spec(t, "hs_lastmodifieddate", "Last Modified Date", "datetime"),
        ),
        default_properties=(
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline",
        ),
    )


SCHEMAS: dict[str, ObjectSchema] = {schema.object_type: schema for schema in (_contacts(), _companies(), _deals())}


def resolve_object_type(name: str) -> str | None:
    """Return the canonical object type for a path segment, or None when it names no emulated type."""
    return OBJECT_TYPE_ALIASES.get(name.lower())
