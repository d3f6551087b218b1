from __future__ import annotations

from datetime import date
from typing import Any

from generations_live.domain import usage
from generations_live.domain.lifecycle import GenerationType, Status

TODAY = date(2026, 3, 18)  # a Wednesday


def day_with(day: date, *starts: tuple[GenerationType, str]) -> dict[str, Any]:
    doc: dict[str, Any] | None = None
    for generation_type, prompt in starts:
        doc = usage.record_start(doc, day, generation_type, prompt)
    return doc or usage.empty_day(day)


def test_start_and_outcome_counters() -> None:
    doc = day_with(TODAY, (GenerationType.IMAGE, "a fox"), (GenerationType.IMAGE, " a fox "))
    doc = usage.record_outcome(doc, TODAY, Status.COMPLETED, charged=5)
    doc = usage.record_outcome(doc, TODAY, Status.FAILED, charged=0)
    assert doc["started"] == 2
    assert doc["byType"] == {"image": 2, "video": 0, "audio": 0, "text": 0}
    assert (doc["completed"], doc["failed"], doc["creditsCharged"]) == (1, 1, 5)
    assert [entry["count"] for entry in doc["prompts"].values()] == [2]


def test_distinct_prompts_per_day_are_capped() -> None:
    doc = day_with(
        TODAY, *[(GenerationType.TEXT, f"p{i}") for i in range(usage.MAX_PROMPTS_PER_DAY + 5)]
    )
    assert len(doc["prompts"]) == usage.MAX_PROMPTS_PER_DAY
    assert doc["started"] == usage.MAX_PROMPTS_PER_DAY + 5


def test_window_covers_the_month_and_week_even_for_short_windows() -> None:
    assert usage.window_start(TODAY, 1) == date(2026, 3, 1)
    assert usage.window_start(date(2026, 4, 1), 1) == date(2026, 3, 30)  # Monday
    assert usage.window_start(TODAY, 90) == date(2025, 12, 19)


def test_summary_periods_distribution_and_top_prompts() -> None:
    days = [
        usage.record_outcome(
            day_with(TODAY, (GenerationType.VIDEO, "waves"), (GenerationType.VIDEO, "waves")),
            TODAY,
            Status.COMPLETED,
            charged=10,
        ),
        usage.record_outcome(
            day_with(date(2026, 3, 16), (GenerationType.AUDIO, "a song")),
            date(2026, 3, 16),
            Status.FAILED,
            charged=0,
        ),
        day_with(date(2026, 3, 2), (GenerationType.TEXT, "a poem")),
        day_with(date(2026, 2, 27), (GenerationType.TEXT, "old")),
    ]
    summary = usage.summarize(days, TODAY, days=7)
    assert summary["today"] == {"generations": 2, "credits": 10}
    assert summary["thisWeek"] == {"generations": 3, "credits": 10}
    assert summary["thisMonth"] == {"generations": 4, "credits": 10}
    assert summary["generations"] == 3
    assert summary["byType"] == {"image": 0, "video": 2, "audio": 1, "text": 0}
    assert summary["successRate"] == 0.5
    assert summary["averageCreditsPerGeneration"] == 10
    assert summary["topPrompts"] == [
        {"prompt": "waves", "count": 2},
        {"prompt": "a song", "count": 1},
    ]
    empty = usage.summarize([], TODAY, days=1)
    assert (empty["successRate"], empty["averageCreditsPerGeneration"]) == (None, None)
