"""Cron expressions, next fire times and due checks of connection schedules, all in UTC.

Each scheduled connection fires at offsets derived from a hash of its id (minute, hour, weekday,
day of month), so a thousand daily connections spread over the day instead of all starting at
00:00 UTC. The Dagster schedules, the cron endpoint and the API's ``nextRunAt`` use these functions,
so they always agree.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

FREQUENCIES = ("hourly", "daily", "weekly", "monthly")
# Monthly schedules fire on days 1 to 28 only, so every month has the day.
MONTHLY_DAYS = 28
# A scheduled run counts for the current period when it was created up to this long before the
# period elapsed. Without it, a run created a few seconds after its tick would push the next tick
# of the same schedule, or the next call of an external cron, back by a whole period.
DUE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class SpreadOffsets:
    """Start offsets of one connection's schedules."""

    minute: int  # 0 to 59
    hour: int  # 0 to 23
    weekday: int  # 0 (Monday) to 6 (Sunday), as in ``datetime.weekday()``
    day: int  # 1 to MONTHLY_DAYS


def spread_offsets(connection_id: str) -> SpreadOffsets:
    """Derive the offsets from the SHA-256 of the connection id, so the same id always gets the same offsets."""
    number = int.from_bytes(hashlib.sha256(connection_id.encode()).digest()[:8], "big")
    number, minute = divmod(number, 60)
    number, hour = divmod(number, 24)
    number, weekday = divmod(number, 7)
    day = number % MONTHLY_DAYS + 1
    return SpreadOffsets(minute=minute, hour=hour, weekday=weekday, day=day)


def schedule_frequency(enabled: bool, schedule: dict[str, Any] | None) -> str | None:
    """Return the frequency of an enabled connection with an enabled, valid schedule, else None."""
    if not enabled or not isinstance(schedule, dict) or not schedule.get("enabled", True):
        return None
    frequency = schedule.get("frequency")
    return frequency if frequency in FREQUENCIES else None


def _check_frequency(frequency: str) -> None:
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown schedule frequency {frequency!r}; use one of {', '.join(FREQUENCIES)}")


def cron_expression(connection_id: str, frequency: str) -> str:
    """Return the five-field cron expression (UTC) of the connection's schedule."""
    _check_frequency(frequency)
    offsets = spread_offsets(connection_id)
    if frequency == "hourly":
        return f"{offsets.minute} * * * *"
    if frequency == "daily":
        return f"{offsets.minute} {offsets.hour} * * *"
    if frequency == "weekly":
        # Cron numbers weekdays from Sunday (0), Python from Monday (0).
        return f"{offsets.minute} {offsets.hour} * * {(offsets.weekday + 1) % 7}"
    return f"{offsets.minute} {offsets.hour} {offsets.day} * *"


def add_months(value: datetime, months: int) -> datetime:
    """Return ``value`` moved by whole calendar months, clamping the day to the target month's length."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def next_run_at(connection_id: str, frequency: str, after: datetime) -> datetime:
    """Return the first fire time of the connection's schedule strictly after ``after`` (aware, UTC)."""
    _check_frequency(frequency)
    offsets = spread_offsets(connection_id)
    now = after.astimezone(timezone.utc)
    start_of_minute = now.replace(second=0, microsecond=0)
    if frequency == "hourly":
        candidate = start_of_minute.replace(minute=offsets.minute)
        return candidate if candidate > now else candidate + timedelta(hours=1)
    same_day = start_of_minute.replace(hour=offsets.hour, minute=offsets.minute)
    if frequency == "daily":
        return same_day if same_day > now else same_day + timedelta(days=1)
    if frequency == "weekly":
        candidate = same_day + timedelta(days=(offsets.weekday - now.weekday()) % 7)
        return candidate if candidate > now else candidate + timedelta(days=7)
    candidate = same_day.replace(day=offsets.day)
    return candidate if candidate > now else add_months(candidate, 1)


def period_end(frequency: str, start: datetime) -> datetime:
    """Return the time one period of ``frequency`` after ``start``."""
    _check_frequency(frequency)
    if frequency == "hourly":
        return start + timedelta(hours=1)
    if frequency == "daily":
        return start + timedelta(days=1)
    if frequency == "weekly":
        return start + timedelta(days=7)
    return add_months(start, 1)


def is_due(frequency: str, last_scheduled_run_at: datetime | None, now: datetime) -> bool:
    """Return whether a period of ``frequency`` has elapsed since the last scheduled run, within ``DUE_TOLERANCE``."""
    if last_scheduled_run_at is None:
        return True
    return now >= period_end(frequency, last_scheduled_run_at) - DUE_TOLERANCE
