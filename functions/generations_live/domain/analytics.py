"""Generation analytics: folding change events into daily rollups and
answering a window from them. Pure rules: no I/O.

Every start and every terminal status change of a generation emits one
immutable event (in the generation's own transaction). A scheduled job folds
new events, exactly once each, into one counter document per UTC day of
*creation*, plus per-day user counts. Everything in a day document is an
integer counter, so a batch of events becomes a delta that is simply added.
A status change after the window closed lands on the day the generation was
created, so every day stays exact. See docs/analytics.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from generations_live.domain.lifecycle import GenerationType, Status
from generations_live.domain.windows import window_days

TOP_USERS = 10
START = "start"
END = "end"


@dataclass(frozen=True)
class GenerationEvent:
    """One immutable change of a generation, as the rollup sees it."""

    kind: str  # START or END
    at: datetime  # commit time of the change
    created_at: datetime  # the generation's creation (equals ``at`` for a start)
    type: str
    engine: str
    user_id: str
    user_name: str
    status: str | None = None  # the terminal status, for END
    duration_ms: int | None = None  # for END


@dataclass
class RollupDelta:
    """Counters to add, per creation day; users started per day; latest names."""

    days: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, int]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def duration_bucket(duration_ms: int) -> int:
    """Durations are kept to two significant digits (within 5%), so a day's
    histogram stays small whatever the volume; percentiles are exact over them."""
    if duration_ms < 100:
        return max(0, duration_ms)
    unit: int = 10 ** (len(str(duration_ms)) - 2)
    rounded: int = (duration_ms + unit // 2) // unit * unit
    return rounded


def _bump(counters: dict[str, Any], path: tuple[str, ...], amount: int) -> None:
    node = counters
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = node.get(path[-1], 0) + amount


def fold_events(events: Iterable[GenerationEvent]) -> RollupDelta:
    """The counters a batch of events adds to the daily rollups."""
    delta = RollupDelta()
    for event in events:
        day = event.created_at.date().isoformat()
        counters = delta.days.setdefault(day, {})
        if event.kind == START:
            _bump(counters, ("total",), 1)
            _bump(counters, ("byType", event.type), 1)
            _bump(counters, ("byStatus", Status.PROCESSING.value), 1)
            _bump(counters, ("byEngine", event.engine), 1)
            _bump(counters, ("byHour", f"{event.created_at.hour:02d}"), 1)
            users = delta.users.setdefault(day, {})
            users[event.user_id] = users.get(event.user_id, 0) + 1
            delta.names[event.user_id] = event.user_name
        else:
            status = event.status or Status.FAILED.value
            _bump(counters, ("byStatus", Status.PROCESSING.value), -1)
            _bump(counters, ("byStatus", status), 1)
            if status == Status.COMPLETED.value and event.duration_ms is not None:
                bucket = str(duration_bucket(event.duration_ms))
                _bump(counters, ("durations", event.type, bucket), 1)
    return delta


@dataclass(frozen=True)
class GenerationSnapshot:
    """A raw generation document, for recounts and backfills."""

    created_at: datetime
    completed_at: datetime | None
    status: str
    type: str
    engine: str
    user_id: str
    user_name: str
    duration_ms: int | None


def events_as_of(snapshots: Iterable[GenerationSnapshot], as_of: datetime) -> list[GenerationEvent]:
    """The events that produced these generations' state at ``as_of``.

    A change commits its event and its document together, so a generation
    created after ``as_of`` did not exist yet, and one finished after it was
    still processing.
    """
    events = []
    for snap in snapshots:
        if snap.created_at > as_of:
            continue
        start = GenerationEvent(
            kind=START,
            at=snap.created_at,
            created_at=snap.created_at,
            type=snap.type,
            engine=snap.engine,
            user_id=snap.user_id,
            user_name=snap.user_name,
        )
        events.append(start)
        finished_at = snap.completed_at if snap.status != Status.PROCESSING.value else None
        if finished_at is not None and finished_at <= as_of:
            events.append(
                replace(
                    start,
                    kind=END,
                    at=finished_at,
                    status=snap.status,
                    duration_ms=snap.duration_ms,
                )
            )
    return events


def percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """Nearest-rank percentile of a histogram of bucketed durations."""
    count = sum(histogram.values())
    if count == 0:
        return None
    rank = max(1, math.ceil(fraction * count))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: rank is at most the count")


def generation_window(
    day_docs: Mapping[str, Mapping[str, Any]],
    users_by_day: Mapping[str, Mapping[str, int]],
    names: Mapping[str, str],
    today: date,
    days: int,
) -> dict[str, Any]:
    """The answer of ``getGenerationAnalytics`` for the ``days`` UTC days ending today."""
    window = window_days(today, days)
    types = [t.value for t in GenerationType]
    by_type: Counter[str] = Counter(dict.fromkeys(types, 0))
    by_status: Counter[str] = Counter({s.value: 0 for s in Status})
    by_engine: Counter[str] = Counter()
    by_hour: Counter[str] = Counter({f"{hour:02d}": 0 for hour in range(24)})
    durations: dict[str, Counter[int]] = {t: Counter() for t in types}
    per_day = []
    user_counts: Counter[str] = Counter()
    for day in window:
        doc = day_docs.get(day, {})
        day_types = {t: int(doc.get("byType", {}).get(t, 0)) for t in types}
        per_day.append({"day": day, **day_types, "total": int(doc.get("total", 0))})
        by_type.update(day_types)
        by_status.update(doc.get("byStatus", {}))
        by_engine.update(doc.get("byEngine", {}))
        by_hour.update(doc.get("byHour", {}))
        for generation_type, histogram in doc.get("durations", {}).items():
            durations.setdefault(generation_type, Counter()).update(
                {int(bucket): count for bucket, count in histogram.items()}
            )
        user_counts.update(users_by_day.get(day, {}))
    finished = by_status[Status.COMPLETED.value] + by_status[Status.FAILED.value]
    top = sorted(
        ((uid, count) for uid, count in user_counts.items() if count > 0),
        key=lambda item: (-item[1], item[0]),
    )[:TOP_USERS]
    return {
        "days": days,
        "since": window[0],
        "total": sum(by_type.values()),
        "byType": dict(by_type),
        "byStatus": dict(by_status),
        "successRate": by_status[Status.COMPLETED.value] / finished if finished else None,
        "activeUsers": sum(1 for count in user_counts.values() if count > 0),
        "topUsers": [
            {"userId": uid, "userName": names.get(uid, ""), "count": count} for uid, count in top
        ],
        "byEngine": {engine: n for engine, n in sorted(by_engine.items()) if n},
        "durations": {
            t: {
                "count": sum(durations[t].values()),
                "p50": percentile(durations[t], 0.50),
                "p95": percentile(durations[t], 0.95),
            }
            for t in types
        },
        "perDay": per_day,
        "byHour": dict(sorted(by_hour.items())),
    }
