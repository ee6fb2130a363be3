"""Conversions between epoch milliseconds, datetimes and HubSpot's ISO-8601 strings.

HubSpot sends instants as ``2026-01-05T10:00:00.000Z``: UTC, millisecond precision,
four-digit year. The emulator stores every datetime property in exactly that form,
so comparing two stored values as strings gives the same order as comparing the
instants.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^-?\d+$")
_MS_PER_DAY = 86_400_000
# Instants that datetime can represent: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
_MIN_MS = (datetime(1, 1, 1) - _EPOCH) // timedelta(milliseconds=1)
_MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000) - _EPOCH) // timedelta(milliseconds=1)

# Lookup tables that let format_ms build a string without datetime arithmetic,
# which matters when a page of seeded records is generated per request.
_HOURS_MINUTES = tuple(f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(1440))
_TWO_DIGITS = tuple(f"{value:02d}" for value in range(60))
_THREE_DIGITS = tuple(f"{value:03d}" for value in range(1000))
_day_strings: dict[int, str] = {}


def format_day(day: int) -> str:
    """Format a day number (days since 1970-01-01) as ``YYYY-MM-DD``."""
    text = _day_strings.get(day)
    if text is None:
        text = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        _day_strings[day] = text
    return text


def format_ms(epoch_ms: int) -> str:
    """Format epoch milliseconds as HubSpot's UTC ISO-8601 string with milliseconds."""
    day, rest = divmod(epoch_ms, _MS_PER_DAY)
    minute, rest = divmod(rest, 60_000)
    second, millisecond = divmod(rest, 1000)
    return f"{format_day(day)}T{_HOURS_MINUTES[minute]}:{_TWO_DIGITS[second]}.{_THREE_DIGITS[millisecond]}Z"


def datetime_to_ms(value: datetime) -> int:
    """Convert a datetime to epoch milliseconds. A naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return delta // timedelta(milliseconds=1)


def now_ms() -> int:
    return datetime_to_ms(datetime.now(timezone.utc))


def _check_range(epoch_ms: int) -> int:
    if not _MIN_MS <= epoch_ms <= _MAX_MS:
        raise ValueError(f"epoch milliseconds {epoch_ms} are outside the years 1 to 9999")
    return epoch_ms


def parse_instant_ms(value: object) -> int:
    """Parse a filter or property value that names an instant and return epoch milliseconds.

    Accepts epoch milliseconds (int or a string of digits), an ISO-8601 datetime with
    ``Z`` or an offset (a missing offset means UTC) and a bare ``YYYY-MM-DD`` date,
    taken as midnight UTC. Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid datetime value: {value!r}")
    if isinstance(value, int):
        return _check_range(value)
    if isinstance(value, float) and value.is_integer():
        return _check_range(int(value))
    if not isinstance(value, str):
        raise ValueError(f"invalid datetime value: {value!r}")
    text = value.strip()
    if _INTEGER.match(text):
        return _check_range(int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid datetime value: {value!r}. Use epoch milliseconds or ISO-8601 such as 2026-01-05T10:00:00.000Z"
        ) from None
    return datetime_to_ms(parsed)


def canonical_datetime(value: object) -> str:
    """Return a datetime property value in the stored form, ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return format_ms(parse_instant_ms(value))


def canonical_date(value: object) -> str:
    """Return a date property value in the stored form, ``YYYY-MM-DD``.

    Epoch milliseconds and ISO datetimes are reduced to their UTC calendar date,
    which is how HubSpot stores date properties (midnight UTC).
    """
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        return date.fromisoformat(value.strip()).isoformat()
    epoch_ms = parse_instant_ms(value)
    return (_EPOCH + timedelta(milliseconds=epoch_ms - epoch_ms % _MS_PER_DAY)).date().isoformat()
