"""Days, windows and counters shared by the analytics rules, and the generation window."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from generations_live.domain.analytics import generation_window
from generations_live.domain.windows import (
    MAX_WINDOW_DAYS,
    add_counters,
    days_between,
    sum_counters,
    utc_day_bounds,
    window_days,
)

TODAY = date(2026, 3, 2)


def test_window_days_end_today_oldest_first_across_a_month_end() -> None:
    assert window_days(TODAY, 3) == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert window_days(TODAY, 1) == ["2026-03-02"]
    assert len(window_days(TODAY, MAX_WINDOW_DAYS)) == MAX_WINDOW_DAYS


@pytest.mark.parametrize("days", [0, -1, MAX_WINDOW_DAYS + 1])
def test_window_days_outside_the_bounds_are_refused(days: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 90"):
        window_days(TODAY, days)


def test_days_between_includes_both_ends_and_refuses_a_reversed_range() -> None:
    assert days_between(date(2024, 2, 28), date(2024, 3, 1)) == [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert days_between(TODAY, TODAY) == [TODAY.isoformat()]
    with pytest.raises(ValueError, match="before"):
        days_between(TODAY, date(2026, 3, 1))


def test_utc_day_bounds_run_from_the_first_midnight_to_the_midnight_after_the_last() -> None:
    assert utc_day_bounds(date(2026, 2, 28), TODAY) == (
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
    )


def test_add_counters_adds_in_place_and_creates_missing_maps() -> None:
    into = {"n": 1, "byType": {"image": 2}}
    same = add_counters(into, {"n": 2, "byType": {"image": 1, "text": 4}, "new": {"x": {"y": 1}}})
    assert same is into
    assert into == {"n": 3, "byType": {"image": 3, "text": 4}, "new": {"x": {"y": 1}}}


def test_sum_counters_adds_nested_maps_without_changing_them() -> None:
    a = {"x": {"n": 1, "m": {"k": 2}}, "only_a": 3}
    b = {"x": {"n": 4, "m": {"k": -2, "j": 1}}, "only_b": {"z": 5}}
    merged = sum_counters(a, b)
    assert merged == {"x": {"n": 5, "m": {"k": 0, "j": 1}}, "only_a": 3, "only_b": {"z": 5}}
    merged["x"]["m"]["k"] = 99
    merged["only_b"]["z"] = 99
    assert a == {"x": {"n": 1, "m": {"k": 2}}, "only_a": 3}
    assert b == {"x": {"n": 4, "m": {"k": -2, "j": 1}}, "only_b": {"z": 5}}


@pytest.mark.parametrize(("a", "b"), [({"x": 1}, {"x": {"n": 1}}), ({"x": {"n": 1}}, {"x": 1})])
def test_a_counter_and_a_map_under_one_key_do_not_add(
    a: dict[str, object], b: dict[str, object]
) -> None:
    with pytest.raises(TypeError):
        sum_counters(a, b)


def test_generation_window_sums_the_days_inside_it_and_reads_missing_ones_as_zero() -> None:
    day_docs = {
        "2026-02-28": {
            "total": 3,
            "byType": {"image": 2, "video": 1},
            "byStatus": {"completed": 2, "failed": 1},
            "byEngine": {"gemini": 2, "sora": 1},
            "byHour": {"09": 3},
            "durations": {"image": {"1000": 2}},
        },
        "2026-03-02": {
            "total": 1,
            "byType": {"text": 1},
            "byStatus": {"processing": 1},
            "byEngine": {"gemini": 1},
            "byHour": {"23": 1},
        },
        # Outside a 3-day window ending on TODAY: never counted.
        "2026-02-27": {"total": 50, "byType": {"audio": 50}, "byStatus": {"completed": 50}},
    }
    users = {"2026-02-28": {"ada": 2, "bob": 1}, "2026-03-02": {"ada": 1}, "2026-02-27": {"cy": 50}}
    answer = generation_window(day_docs, users, {"ada": "Ada", "bob": "Bob"}, TODAY, 3)

    assert answer["since"] == "2026-02-28"
    assert answer["total"] == 4
    assert answer["byType"] == {"image": 2, "video": 1, "audio": 0, "text": 1}
    assert answer["byStatus"] == {"processing": 1, "completed": 2, "failed": 1, "canceled": 0}
    assert answer["successRate"] == pytest.approx(2 / 3)
    assert answer["byEngine"] == {"gemini": 3, "sora": 1}
    assert (answer["byHour"]["09"], answer["byHour"]["23"], len(answer["byHour"])) == (3, 1, 24)
    assert answer["activeUsers"] == 2
    assert answer["topUsers"] == [
        {"userId": "ada", "userName": "Ada", "count": 3},
        {"userId": "bob", "userName": "Bob", "count": 1},
    ]
    assert answer["durations"]["image"] == {"count": 2, "p50": 1000, "p95": 1000}
    assert answer["durations"]["audio"] == {"count": 0, "p50": None, "p95": None}
    assert [day["day"] for day in answer["perDay"]] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert answer["perDay"][1] == {
        "day": "2026-03-01",
        "image": 0,
        "video": 0,
        "audio": 0,
        "text": 0,
        "total": 0,
    }


def test_generation_window_without_finished_generations_has_no_success_rate() -> None:
    answer = generation_window({}, {}, {}, TODAY, 7)
    assert (answer["total"], answer["successRate"], answer["topUsers"]) == (0, None, [])
