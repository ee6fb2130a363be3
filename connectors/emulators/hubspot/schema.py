"""Property definitions of the emulated HubSpot object types.

The definitions follow the shape of HubSpot's CRM v3 properties API. Only the
fields a sync client reads are filled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

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

# Default field type (the form control HubSpot shows) of each property type.
_FIELD_TYPE: dict[str, str] = {
    "string": "text",
    "number": "number",
    "datetime": "date",
    "date": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}
PROPERTY_TYPES: tuple[str, ...] = tuple(_FIELD_TYPE)
BOOL_OPTIONS: tuple[str, ...] = ("true", "false")

# Internal names of properties added at run time: lower case, digits and underscores, starting with a letter.
_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PropertyExistsError(ValueError):
    """Raised when a property to add has the name of an existing property of the object type."""


class PropertyNotFoundError(LookupError):
    """Raised when a property name does not exist on the object type."""


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


@dataclass(frozen=True, eq=False)
class ObjectSchema:
    """Properties of one object type, in the order the properties endpoint lists them.

    A change of a property builds a new schema, and schemas compare by identity,
    so a cache keyed by the schema never returns results of an older definition.
    """

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


def complete_property(object_type: str, spec: PropertySpec) -> PropertySpec:
    """Validate a property to add and fill in its field type, group and, for bool, its options.

    Raises ValueError for an invalid name, label or type, and for an enumeration without options.
    """
    if not isinstance(spec, PropertySpec):
        raise ValueError(f"expected a PropertySpec for {object_type}, got {spec!r}")
    if not isinstance(spec.name, str) or not _PROPERTY_NAME.match(spec.name):
        raise ValueError(
            f"invalid property name {spec.name!r}: use lower-case letters, digits and underscores,"
            " starting with a letter"
        )
    if not isinstance(spec.label, str) or not spec.label.strip():
        raise ValueError(f"property {spec.name!r} needs a non-empty label")
    _check_type(spec.name, spec.type)
    options = _options_for(spec.name, spec.type, spec.options or None, ())
    return replace(
        spec,
        field_type=spec.field_type or _FIELD_TYPE[spec.type],
        group_name=spec.group_name or _GROUP_NAME[object_type],
        money=spec.money and spec.type == "number",
        options=options,
    )


def with_property(schema: ObjectSchema, spec: PropertySpec) -> ObjectSchema:
    """Return a copy of ``schema`` with ``spec`` added after the existing properties.

    Raises PropertyExistsError when the name is taken, and ValueError for an invalid definition.
    """
    if spec.name in schema.by_name:
        raise PropertyExistsError(f"property {spec.name!r} already exists on {schema.object_type}")
    complete = complete_property(schema.object_type, spec)
    return replace(schema, properties=(*schema.properties, complete))


def with_property_type(
    schema: ObjectSchema, name: str, new_type: str, options: Sequence[str] | None = None
) -> ObjectSchema:
    """Return a copy of ``schema`` in which property ``name`` has type ``new_type``.

    The field type becomes the default of the new type unless the type is unchanged.
    ``options`` sets the values of an enumeration, and an enumeration keeps its old
    options when none are given. Raises PropertyNotFoundError for an unknown name,
    and ValueError for an invalid type, missing options or a property the emulator
    derives record fields from (the id, create date and last-modified date).
    """
    spec = schema.by_name.get(name)
    if spec is None:
        raise PropertyNotFoundError(f"property {name!r} does not exist on {schema.object_type}")
    if name in schema.always_returned:
        raise ValueError(
            f"the type of {schema.object_type} property {name!r} cannot be changed, because the emulator"
            " derives record ids and timestamps from it"
        )
    _check_type(name, new_type)
    redefined = replace(
        spec,
        type=new_type,
        field_type=spec.field_type if new_type == spec.type else _FIELD_TYPE[new_type],
        money=spec.money and new_type == "number",
        options=_options_for(name, new_type, options, spec.options if spec.type == "enumeration" else ()),
    )
    properties = tuple(redefined if item.name == name else item for item in schema.properties)
    return replace(schema, properties=properties)


def _check_type(name: str, type_: object) -> None:
    if type_ not in PROPERTY_TYPES:
        raise ValueError(f"invalid type {type_!r} for property {name!r}, expected one of {', '.join(PROPERTY_TYPES)}")


def _options_for(
    name: str, type_: str, requested: Sequence[str] | None, previous: tuple[str, ...]
) -> tuple[str, ...]:
    """Return the options of a property of ``type_``: the requested ones, or ``previous`` for an enumeration."""
    if type_ == "bool":
        if requested is not None and tuple(requested) != BOOL_OPTIONS:
            raise ValueError(f"bool property {name!r} has the options true and false only")
        return BOOL_OPTIONS
    if type_ != "enumeration":
        if requested:
            raise ValueError(f"options apply only to enumeration properties, and {name!r} is a {type_}")
        return ()
    chosen = previous if requested is None else requested
    if isinstance(chosen, str) or not all(isinstance(option, str) and option for option in chosen):
        raise ValueError(f"options of enumeration property {name!r} must be a list of non-empty strings")
    if not chosen:
        raise ValueError(f"enumeration property {name!r} needs at least one option")
    return tuple(chosen)


def resolve_object_type(name: str) -> str | None:
    """Return the canonical object type for a path segment, or None when it names no emulated type."""
    return OBJECT_TYPE_ALIASES.get(name.lower())
