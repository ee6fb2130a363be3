"""ISO 8601 instants as Opbox stores and shows them: UTC, millisecond precision, ``Z`` suffix."""

from __future__ import annotations

import re
from datetime import datetime, timezone

# A date, or a date and time with an optional offset; fromisoformat accepts more than ISO 8601.
_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def format_instant(value: datetime) -> str:
    """Return ``value`` in UTC as ``2026-01-01T00:00:00.000Z``; naive values are taken as UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{aware.microsecond // 1000:03d}Z"


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime; raise ValueError if invalid.

    A value without an offset is taken as UTC.
    """
    if not isinstance(text, str) or not _ISO_8601.match(text.strip()):
        raise ValueError(f"{text!r} is not an ISO 8601 date-time such as 2026-01-01T00:00:00.000Z")
    cleaned = text.strip().replace("Z", "+00:00")
    if "." in cleaned:
        # datetime.fromisoformat takes at most 6 fractional digits, so finer fractions are cut.
        head, _, rest = cleaned.partition(".")
        digits = re.match(r"\d+", rest).group(0)  # type: ignore[union-attr]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date-time: {error}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
