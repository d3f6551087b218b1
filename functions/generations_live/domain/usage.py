"""Per-user daily usage documents and the summary ``getUserUsage`` answers.
Pure rules: no I/O.

One document per user and UTC day (``users/{uid}/usage/{YYYY-MM-DD}``) is
rewritten in the same transaction as the generation it counts, so a summary
over 90 days reads at most about 90 small documents whatever the history.
Everything is attributed to the day the generation started.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from generations_live.domain.lifecycle import GenerationType, Status

# Distinct prompts remembered per user and day. The five most-used prompts are
# exact up to this many distinct prompts a day; past it, new ones are not counted.
MAX_PROMPTS_PER_DAY = 50
TOP_PROMPTS = 5
OUTCOME_COUNTERS = {
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.CANCELED: "canceled",
}


def empty_day(day: date) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "started": 0,
        "byType": {t.value: 0 for t in GenerationType},
        "completed": 0,
        "failed": 0,
        "canceled": 0,
        "creditsCharged": 0,
        "prompts": {},
    }


def _prompt_key(prompt: str) -> str:
    return hashlib.sha256(prompt.strip().encode()).hexdigest()[:20]


def record_start(
    usage_day: Mapping[str, Any] | None, day: date, generation_type: GenerationType, prompt: str
) -> dict[str, Any]:
    """The day's usage document after one more generation started."""
    updated = {**empty_day(day), **(usage_day or {})}
    updated["started"] += 1
    updated["byType"] = {**updated["byType"]}
    updated["byType"][generation_type.value] = updated["byType"].get(generation_type.value, 0) + 1
    prompts = {key: {**value} for key, value in updated["prompts"].items()}
    key = _prompt_key(prompt)
    if key in prompts:
        prompts[key]["count"] += 1
    elif len(prompts) < MAX_PROMPTS_PER_DAY:
        prompts[key] = {"prompt": prompt.strip(), "count": 1}
    updated["prompts"] = prompts
    return updated


def record_outcome(
    usage_day: Mapping[str, Any] | None, day: date, outcome: Status, charged: int
) -> dict[str, Any]:
    """The day's usage document after a generation started that day ended."""
    updated = {**empty_day(day), **(usage_day or {})}
    counter = OUTCOME_COUNTERS[outcome]
    updated[counter] += 1
    updated["creditsCharged"] += charged
    return updated


def window_start(today: date, days: int) -> date:
    """The first day a summary over ``days`` days (today included) must read."""
    month_start = today.replace(day=1)
    week_start = today - timedelta(days=today.weekday())
    return min(today - timedelta(days=days - 1), month_start, week_start)


def summarize(usage_days: Iterable[Mapping[str, Any]], today: date, days: int) -> dict[str, Any]:
    """The caller's usage: today, this ISO week, this month, and the last ``days`` days."""
    since = today - timedelta(days=days - 1)
    week_start = today - timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    periods = {"today": today, "thisWeek": week_start, "thisMonth": month_start}
    totals = {name: {"generations": 0, "credits": 0} for name in periods}
    by_type: Counter[str] = Counter({t.value: 0 for t in GenerationType})
    outcomes: Counter[str] = Counter()
    prompts: Counter[str] = Counter()
    for usage_day in usage_days:
        day = date.fromisoformat(usage_day["day"])
        for name, start in periods.items():
            if start <= day <= today:
                totals[name]["generations"] += usage_day["started"]
                totals[name]["credits"] += usage_day["creditsCharged"]
        if not since <= day <= today:
            continue
        by_type.update(usage_day["byType"])
        for counter in ("started", "completed", "failed", "canceled", "creditsCharged"):
            outcomes[counter] += usage_day[counter]
        for entry in usage_day["prompts"].values():
            prompts[entry["prompt"]] += entry["count"]
    finished = outcomes["completed"] + outcomes["failed"]
    return {
        "days": days,
        "since": since.isoformat(),
        **totals,
        "generations": outcomes["started"],
        "credits": outcomes["creditsCharged"],
        "byType": dict(by_type),
        "completed": outcomes["completed"],
        "failed": outcomes["failed"],
        "canceled": outcomes["canceled"],
        "successRate": outcomes["completed"] / finished if finished else None,
        "averageCreditsPerGeneration": (
            outcomes["creditsCharged"] / outcomes["completed"] if outcomes["completed"] else None
        ),
        "topPrompts": [
            {"prompt": prompt, "count": count}
            for prompt, count in sorted(prompts.items(), key=lambda item: (-item[1], item[0]))[
                :TOP_PROMPTS
            ]
        ],
    }
