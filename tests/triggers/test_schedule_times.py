"""Spread start times, cron expressions, next fire times and due checks of connection schedules."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from croniter import croniter
from dagster._utils.schedules import is_valid_cron_string

from opbox_dagster.schedule_times import (
    DUE_TOLERANCE,
    FREQUENCIES,
    add_months,
    cron_expression,
    is_due,
    next_run_at,
    schedule_frequency,
    spread_offsets,
)
from resources.ids import new_id

UTC = timezone.utc


def test_spread_is_deterministic() -> None:
    connection_id = "cm7x3k2p90000abcdefghijkl"

    first = [cron_expression(connection_id, frequency) for frequency in FREQUENCIES]
    second = [cron_expression(connection_id, frequency) for frequency in FREQUENCIES]

    assert first == second
    assert spread_offsets(connection_id) == spread_offsets(connection_id)


def test_spread_differs_across_connections() -> None:
    ids = [new_id() for _ in range(1000)]

    daily_starts = {cron_expression(connection_id, "daily") for connection_id in ids}
    hours = {spread_offsets(connection_id).hour for connection_id in ids}
    minutes = {spread_offsets(connection_id).minute for connection_id in ids}
    weekdays = {spread_offsets(connection_id).weekday for connection_id in ids}
    days = {spread_offsets(connection_id).day for connection_id in ids}

    # 1000 uniform draws over the 1440 minutes of a day give about 721 distinct starts on average.
    assert len(daily_starts) > 600
    assert hours == set(range(24))
    assert minutes == set(range(60))
    assert weekdays == set(range(7))
    assert days == set(range(1, 29))


@pytest.mark.parametrize(
    ("frequency", "pattern"),
    [
        pytest.param("hourly", r"^\d{1,2} \* \* \* \*$", id="hourly"),
        pytest.param("daily", r"^\d{1,2} \d{1,2} \* \* \*$", id="daily"),
        pytest.param("weekly", r"^\d{1,2} \d{1,2} \* \* [0-6]$", id="weekly"),
        pytest.param("monthly", r"^\d{1,2} \d{1,2} \d{1,2} \* \*$", id="monthly"),
    ],
)
def test_cron_expression_shape(frequency: str, pattern: str) -> None:
    for _ in range(50):
        expression = cron_expression(new_id(), frequency)

        assert is_valid_cron_string(expression)
        assert re.match(pattern, expression)


def test_unknown_frequency_raises() -> None:
    with pytest.raises(ValueError, match="fortnightly"):
        cron_expression("c1", "fortnightly")


def test_next_run_matches_croniter() -> None:
    generator = random.Random(7)
    for _ in range(2000):
        connection_id = new_id()
        frequency = generator.choice(FREQUENCIES)
        after = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=generator.randint(0, 800 * 86400))
        if generator.random() < 0.3:
            after = after.replace(second=0, microsecond=0)

        expected = croniter(cron_expression(connection_id, frequency), after).get_next(datetime)

        assert next_run_at(connection_id, frequency, after) == expected, (connection_id, frequency, after)


def test_next_run_is_strictly_after() -> None:
    connection_id = new_id()
    fire_time = next_run_at(connection_id, "hourly", datetime(2026, 3, 1, tzinfo=UTC))

    assert next_run_at(connection_id, "hourly", fire_time) == fire_time + timedelta(hours=1)


@pytest.mark.parametrize(
    ("frequency", "last", "now", "due"),
    [
        pytest.param("hourly", None, "2026-03-01T10:00", True, id="never-ran"),
        pytest.param("hourly", "2026-03-01T10:00", "2026-03-01T10:30", False, id="hourly-half-way"),
        pytest.param("hourly", "2026-03-01T10:00:04", "2026-03-01T11:00", True, id="hourly-tick-lag"),
        pytest.param("daily", "2026-03-01T10:00", "2026-03-02T09:54", False, id="daily-early"),
        pytest.param("daily", "2026-03-01T10:00", "2026-03-02T09:56", True, id="daily-within-tolerance"),
        pytest.param("weekly", "2026-03-01T10:00", "2026-03-07T10:00", False, id="weekly-early"),
        pytest.param("weekly", "2026-03-01T10:00", "2026-03-08T10:00", True, id="weekly-elapsed"),
        pytest.param("monthly", "2026-01-31T10:00", "2026-02-28T10:00", True, id="monthly-short-month"),
        pytest.param("monthly", "2026-03-15T10:00", "2026-04-14T10:00", False, id="monthly-early"),
    ],
)
def test_is_due(frequency: str, last: str | None, now: str, due: bool) -> None:
    last_run_at = datetime.fromisoformat(last).replace(tzinfo=UTC) if last else None

    assert is_due(frequency, last_run_at, datetime.fromisoformat(now).replace(tzinfo=UTC)) is due


def test_due_tolerance_is_below_shortest_period() -> None:
    assert DUE_TOLERANCE < timedelta(hours=1) / 2


def test_add_months_clamps_day() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("enabled", "schedule", "expected"),
    [
        pytest.param(True, {"enabled": True, "frequency": "daily"}, "daily", id="on"),
        pytest.param(False, {"enabled": True, "frequency": "daily"}, None, id="connection-disabled"),
        pytest.param(True, {"enabled": False, "frequency": "daily"}, None, id="schedule-off"),
        pytest.param(True, {"enabled": True, "frequency": "fortnightly"}, None, id="unknown-frequency"),
        pytest.param(True, None, None, id="no-schedule"),
    ],
)
def test_schedule_frequency(enabled: bool, schedule: dict[str, object] | None, expected: str | None) -> None:
    assert schedule_frequency(enabled, schedule) == expected
