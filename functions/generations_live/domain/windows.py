"""Days, windows and nested counters: the arithmetic every analytics rule shares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

# The longest window any answer covers (analytics, billing analytics, usage).
MAX_WINDOW_DAYS = 90


def window_days(today: date, days: int) -> list[str]:
    """The ``days`` UTC days ending today, oldest first, as ISO dates."""
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_WINDOW_DAYS}, got {days}")
    return days_between(today - timedelta(days=days - 1), today)


def days_between(first_day: date, last_day: date) -> list[str]:
    """Every day from ``first_day`` to ``last_day``, both included, as ISO dates."""
    if last_day < first_day:
        raise ValueError("the last day comes before the first")
    return [
        (first_day + timedelta(days=offset)).isoformat()
        for offset in range((last_day - first_day).days + 1)
    ]


def utc_day_bounds(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """The instants where ``first_day`` starts and the day after ``last_day`` starts, in UTC."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    return start, datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def add_counters(into: dict[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """Add the nested integer counters of ``delta`` into ``into`` (in place) and return it."""
    for key, value in delta.items():
        if isinstance(value, Mapping):
            existing = into.setdefault(key, {})
            if not isinstance(existing, dict):
                raise TypeError(f"{key}: cannot add a map to a counter")
            add_counters(existing, value)
        elif isinstance(into.get(key), Mapping):
            raise TypeError(f"{key}: cannot add a counter to a map")
        else:
            into[key] = (into.get(key) or 0) + (value or 0)
    return into


def sum_counters(*parts: Mapping[str, Any]) -> dict[str, Any]:
    """The key-by-key sum of nested counter maps, as a new map; the parts are not changed."""
    total: dict[str, Any] = {}
    for part in parts:
        add_counters(total, part)
    return total
