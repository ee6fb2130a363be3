"""One CRM record as the emulator stores it, and its wire form."""

from __future__ import annotations

from json.encoder import encode_basestring_ascii
from typing import Any, Iterable, NamedTuple

# (property name, its JSON key with the colon), prepared once per property selection.
PropertyKeys = tuple[tuple[str, str], ...]


def json_property_keys(property_names: Iterable[str]) -> PropertyKeys:
    return tuple((name, encode_basestring_ascii(name) + ":") for name in property_names)


class Record(NamedTuple):
    """A stored record. Replace it (``_replace``) to change it, because readers share instances without a lock.

    ``properties`` maps property names to values, with None for an unset value.
    A property missing from it is unset too: seeded records lack custom properties,
    and older records lack properties added after them. Timestamps are stored in HubSpot's ISO-8601 form.
    """

    id: int
    properties: dict[str, str | None]
    created_at: str
    updated_at: str
    archived_at: str | None = None

    def to_wire(self, property_names: Iterable[str]) -> dict[str, Any]:
        """Return the record as HubSpot sends it, with only the named properties."""
        values = self.properties
        wire: dict[str, Any] = {
            "id": str(self.id),
            "properties": {name: values.get(name) for name in property_names},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived_at is not None,
        }
        if self.archived_at is not None:
            wire["archivedAt"] = self.archived_at
        return wire

    def to_json(self, keys: PropertyKeys) -> str:
        """Return ``to_wire`` encoded as compact JSON, built from string pieces.

        Building the text directly took about half the time of ``json.dumps`` on
        the dicts when timed on pages of 100 contacts with 8 properties (CPython
        3.11). The stored timestamps contain no characters that need escaping.
        """
        values = self.properties
        properties = ",".join(
            [
                key + ("null" if (value := values.get(name)) is None else encode_basestring_ascii(value))
                for name, key in keys
            ]
        )
        archived = "false" if self.archived_at is None else f'true,"archivedAt":"{self.archived_at}"'
        return (
            f'{{"id":"{self.id}","properties":{{{properties}}},'
            f'"createdAt":"{self.created_at}","updatedAt":"{self.updated_at}","archived":{archived}}}'
        )
