"""The analytics use cases: fold new events into the rollups, answer a window
from one precomputed document, rebuild days from raw documents, and check the
rollups against a recount.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from generations_live.adapters.rollups import (
    BILLING,
    GENERATIONS,
    FoldedBatch,
    RollupBusy,
    RollupSpec,
    RollupStore,
)
from generations_live.domain import analytics, billing_analytics
from generations_live.domain.analytics import GenerationEvent
from generations_live.domain.errors import FailedPrecondition, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.windows import MAX_WINDOW_DAYS, days_between

EVENTS_PER_BATCH = 500
# How long a backfill may hold a rollup; scheduled runs skip meanwhile.
LEASE = timedelta(minutes=15)
# How long a check waits for a rollup run to finish before it gives up (the
# scheduled run takes seconds), and how often it looks.
CHECK_PATIENCE = timedelta(seconds=60)
CHECK_POLL_S = 0.25


def generation_event(path: str, fields: dict[str, Any]) -> GenerationEvent:
    del path
    at: datetime = fields["at"]
    return GenerationEvent(
        kind=fields["kind"],
        at=at,
        created_at=fields.get("createdAt") or at,
        type=fields["type"],
        engine=fields["engine"],
        user_id=fields["userId"],
        user_name=fields.get("userName", ""),
        status=fields.get("status"),
        duration_ms=fields.get("durationMs"),
    )


def fold_generation_events(events: list[tuple[str, dict[str, Any]]]) -> FoldedBatch:
    delta = analytics.fold_events(generation_event(path, fields) for path, fields in events)
    return FoldedBatch(days=delta.days, users=delta.users, names=delta.names)


def ledger_fact(path: str, fields: dict[str, Any]) -> billing_analytics.LedgerFact:
    # billing/{uid}/ledger/{entryId}
    uid = path.split("/")[-3]
    return billing_analytics.LedgerFact(
        uid=uid,
        kind=fields["kind"],
        amount=int(fields["amount"]),
        generation_type=fields.get("generationType"),
        at=fields["createdAt"],
    )


def fold_ledger_entries(entries: list[tuple[str, dict[str, Any]]]) -> FoldedBatch:
    delta = billing_analytics.fold_ledger_entries(ledger_fact(p, f) for p, f in entries)
    return FoldedBatch(days=delta.days, users=delta.spenders, names={})


def _billing_answer(
    day_docs: dict[str, Any],
    users: dict[str, dict[str, int]],
    names: dict[str, str],
    today: date,
    days: int,
) -> dict[str, Any]:
    del names
    return billing_analytics.billing_window(day_docs, users, today, days)


def _generation_recount(
    rollups: RollupStore, first_day: date, last_day: date, as_of: datetime
) -> FoldedBatch:
    snapshots = rollups.raw_generations(first_day, last_day)
    delta = analytics.fold_events(analytics.events_as_of(snapshots, as_of))
    return FoldedBatch(days=delta.days, users=delta.users, names=delta.names)


def _billing_recount(
    rollups: RollupStore, first_day: date, last_day: date, as_of: datetime
) -> FoldedBatch:
    facts = [ledger_fact(path, fields) for path, fields in rollups.raw_ledger(first_day, last_day)]
    delta = billing_analytics.recount_billing(facts, as_of)
    return FoldedBatch(days=delta.days, users=delta.spenders, names={})


@dataclass(frozen=True)
class Rollup:
    spec: RollupSpec
    fold: Callable[[list[tuple[str, dict[str, Any]]]], FoldedBatch]
    answer: Callable[
        [dict[str, Any], dict[str, dict[str, int]], dict[str, str], date, int], dict[str, Any]
    ]
    recount: Callable[[RollupStore, date, date, datetime], FoldedBatch]


GENERATION_ROLLUP = Rollup(
    GENERATIONS, fold_generation_events, analytics.generation_window, _generation_recount
)
BILLING_ROLLUP = Rollup(BILLING, fold_ledger_entries, _billing_answer, _billing_recount)
ROLLUPS = (GENERATION_ROLLUP, BILLING_ROLLUP)


@dataclass(frozen=True)
class RollupReport:
    name: str
    events: int
    batches: int
    caught_up: bool
    as_of: datetime | None
    windows_written: bool


def run_rollup(
    rollups: RollupStore,
    rollup: Rollup,
    now: datetime,
    *,
    lag: timedelta,
    max_batches: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> RollupReport:
    """Fold every event committed up to ``now - lag``, then refresh the window answers.

    Work is proportional to the new events, plus a constant 90-day window
    refresh when anything changed or the day turned.
    """
    until = now - lag
    events = batches = 0
    caught_up = False
    while batches < max_batches and not caught_up:
        outcome = rollups.fold_next_batch(
            rollup.spec, rollup.fold, until=until, limit=EVENTS_PER_BATCH, now=now
        )
        events += outcome.events
        batches += 1
        caught_up = outcome.caught_up
        if on_batch is not None:
            on_batch(outcome.events)
    meta = rollups.meta(rollup.spec)
    as_of: datetime | None = meta.get("asOf")
    # The windows lag the folded events when a run died between folding and
    # refreshing them: the next run refreshes them even with nothing new.
    refresh = as_of is not None and (
        events > 0
        or meta.get("windowsDay") != as_of.date().isoformat()
        or meta.get("windowsEventsFolded") != meta.get("eventsFolded", 0)
    )
    if refresh and as_of is not None:
        refresh_windows(rollups, rollup, as_of, meta.get("eventsFolded", 0))
    return RollupReport(rollup.spec.name, events, batches, caught_up, as_of, refresh)


def refresh_windows(
    rollups: RollupStore, rollup: Rollup, as_of: datetime, events_folded: int
) -> None:
    """Recompute the answer of every window (1 to 90 days) ending on ``as_of``'s day.

    ``events_folded`` is the rollup's count of folded events read with
    ``as_of``: the windows are marked as up to date with it.
    """
    today = as_of.date()
    first_day = (today - timedelta(days=MAX_WINDOW_DAYS - 1)).isoformat()
    day_docs, users, names = rollups.window_inputs(rollup.spec, first_day)
    answers = {
        days: rollup.answer(day_docs, users, names, today, days)
        for days in range(1, MAX_WINDOW_DAYS + 1)
    }
    rollups.write_windows(rollup.spec, answers, as_of)
    rollups.mark_windows(rollup.spec, today.isoformat(), events_folded)


def window_answer(rollups: RollupStore, rollup: Rollup, days: int) -> dict[str, Any]:
    """A window's answer: one document read, whatever the volume."""
    answer = rollups.window(rollup.spec, days)
    if answer is None:
        # No rollup has run yet: an empty answer, complete up to nothing.
        empty = rollup.answer({}, {}, {}, datetime.now(UTC).date(), days)
        return {**empty, "asOf": None}
    return answer


def answer_generation_analytics(rollups: RollupStore, caller: Caller, days: int) -> dict[str, Any]:
    """The platform's generation numbers: any signed-in user may see them."""
    del caller
    return window_answer(rollups, GENERATION_ROLLUP, days)


def answer_billing_analytics(rollups: RollupStore, caller: Caller, days: int) -> dict[str, Any]:
    """The credit economy: admins only."""
    if not caller.is_admin:
        raise PermissionDenied("only admins may see billing analytics")
    return window_answer(rollups, BILLING_ROLLUP, days)


def backfill(
    rollups: RollupStore,
    rollup: Rollup,
    first_day: date,
    last_day: date,
    now: datetime,
    *,
    lag: timedelta,
) -> list[str]:
    """Rebuild these days' rollups from the raw documents; returns the days rebuilt.

    Counts each document as it was at the rollup's asOf (a generation finished
    after it was still processing), under a lease that keeps scheduled runs
    off meanwhile, so the events still to fold land on top exactly once.
    Raw documents removed by cleanup are gone: rebuild within the retention.
    """
    days = days_between(first_day, last_day)
    run_rollup(rollups, rollup, now, lag=lag)
    as_of = rollups.take_lease(rollup.spec, now, now + LEASE)
    try:
        if as_of is None:
            as_of = now - lag
            rollups.start_cursor_at(rollup.spec, as_of)
        recount = rollup.recount(rollups, first_day, last_day, as_of)
        rollups.replace_days(rollup.spec, days, recount)
    finally:
        rollups.release_lease(rollup.spec)
    refresh_windows(rollups, rollup, as_of, rollups.meta(rollup.spec).get("eventsFolded", 0))
    return days


def check(
    rollups: RollupStore,
    rollup: Rollup,
    first_day: date,
    last_day: date,
    *,
    patience: timedelta = CHECK_PATIENCE,
) -> dict[str, dict[str, Any]]:
    """Days whose rollups differ from a recount of the raw documents up to asOf,
    with the counters that differ (rollup against recount) for each.

    The cursor, days and shards are read at one instant, and compared only at
    an instant when no run is half-way (a run folds past asOf before it moves
    it) and no backfill holds the rollup: then the documents hold exactly the
    events up to asOf, and a concurrent rollup can never show as a difference.
    """
    first, last = first_day.isoformat(), last_day.isoformat()
    deadline = time.monotonic() + patience.total_seconds()
    while True:
        stored = rollups.stored(rollup.spec, first, last)
        as_of: datetime | None = stored.meta.get("asOf")
        if as_of is None:
            raise FailedPrecondition("no rollup has run yet: run one first")
        if _at_rest(stored.meta, datetime.now(UTC)):
            break
        if time.monotonic() >= deadline:
            raise RollupBusy(f"the {rollup.spec.name} rollup kept running; check again shortly")
        time.sleep(CHECK_POLL_S)
    expected = rollup.recount(rollups, first_day, last_day, as_of)
    mismatches: dict[str, dict[str, Any]] = {}
    for day in days_between(first_day, last_day):
        counters = {k: v for k, v in stored.days.get(day, {}).items() if k != "day"}
        differences = counter_differences(counters, expected.days.get(day, {}))
        users = _nonzero(stored.users.get(day, {}))
        recounted_users = _nonzero(expected.users.get(day, {}))
        if not _same_users(users, stored.overflow.get(day, 0), recounted_users):
            differences["users"] = {
                "rollup": {"named": users, "overflow": stored.overflow.get(day, 0)},
                "recount": recounted_users,
            }
        if differences:
            mismatches[day] = differences
    return mismatches


def _at_rest(meta: Mapping[str, Any], now: datetime) -> bool:
    """No run has folded past asOf (it would move asOf once caught up), no backfill holds it."""
    cursor, as_of, lease = meta.get("cursorAt"), meta.get("asOf"), meta.get("leaseUntil")
    folding = cursor is not None and as_of is not None and cursor > as_of
    return not folding and not (lease is not None and lease > now)


def _same_users(named: Mapping[str, int], overflow: int, recounted: Mapping[str, int]) -> bool:
    """Whether a day's named users and overflow account for the recount exactly: every
    named user with all their generations, the others' generations in the overflow."""
    if not overflow:
        return dict(named) == dict(recounted)
    exact = all(recounted.get(uid) == count for uid, count in named.items())
    return exact and sum(named.values()) + overflow == sum(recounted.values())


def counter_differences(rollup: Mapping[str, Any], recount: Mapping[str, Any]) -> dict[str, Any]:
    """``{"byType.image": {"rollup": 5, "recount": 4}, ...}``: only the counters that differ."""
    flat_rollup, flat_recount = _flattened(_nonzero(rollup)), _flattened(_nonzero(recount))
    return {
        path: {"rollup": flat_rollup.get(path, 0), "recount": flat_recount.get(path, 0)}
        for path in sorted(flat_rollup.keys() | flat_recount.keys())
        if flat_rollup.get(path, 0) != flat_recount.get(path, 0)
    }


def _flattened(counters: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in counters.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flattened(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _nonzero(counters: Mapping[str, Any]) -> dict[str, Any]:
    """Counters without zeros or empty maps: a -1 and a +1 leave a zero behind."""
    cleaned: dict[str, Any] = {}
    for key, value in counters.items():
        if isinstance(value, Mapping):
            nested = _nonzero(value)
            if nested:
                cleaned[key] = nested
        elif value:
            cleaned[key] = value
    return cleaned
