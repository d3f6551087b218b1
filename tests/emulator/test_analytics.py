"""Analytics rollups against the real Firestore emulator: randomized data over
many days, answered from rollups and compared with a brute-force recount of
the raw generation documents; retries, overlapping runs, late status changes,
backfill and check; and the reads a dashboard request costs."""

from __future__ import annotations

import math
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.domain import analytics, billing_analytics
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.services import rollups, tracking
from harness.callers import member
from harness.history import ENGINES, STATUSES, TYPES, counting_document_reads, seed_history

WORKER = member("worker-1", {"worker": True})
NO_LAG = timedelta(0)


def soon() -> datetime:
    # A moment ahead of the emulator's commit clock, so everything written so
    # far is folded.
    return datetime.now(UTC) + timedelta(seconds=1)


def live_traffic(db: firestore.Client, rng: random.Random, starts: int) -> None:
    """Generations started and finished now through the real use cases, and
    late outcomes for old generations that were still processing."""
    store = GenerationStore(db)
    for index in range(starts):
        caller = member(f"live-{index % 4}", {"name": f"Live {index % 4}"})
        request = TrackGenerationRequest.model_validate(
            {"type": rng.choice(TYPES), "prompt": "now", "engine": rng.choice(ENGINES)}
        )
        started = tracking.track_generation(store, caller, request, settings(), datetime.now(UTC))
        if rng.random() < 0.7:
            finish(store, started["generationId"], rng.choice(STATUSES[1:]), rng)
    stuck = [
        doc.id
        for doc in db.collection("live_generations")
        .where(filter=FieldFilter("status", "==", "processing"))
        .stream()
        if doc.id.startswith("seed-")
    ]
    for generation_id in rng.sample(stuck, min(len(stuck), 5)):
        finish(store, generation_id, rng.choice(STATUSES[1:]), rng)


def finish(store: GenerationStore, generation_id: str, status: str, rng: random.Random) -> None:
    report: dict[str, Any] = {"generationId": generation_id, "status": status}
    if status == "completed":
        report["durationMs"] = rng.randint(0, 900_000)
    tracking.update_generation_status(
        store, WORKER, UpdateGenerationStatusRequest.model_validate(report), datetime.now(UTC)
    )


def brute_force(db: firestore.Client, as_of: datetime, days: int) -> dict[str, Any]:
    """The window's numbers straight from every raw generation document."""
    today = as_of.date()
    since = today - timedelta(days=days - 1)
    rows = [doc.to_dict() or {} for doc in db.collection("live_generations").stream()]
    rows = [r for r in rows if since <= r["createdAt"].date() <= today and r["createdAt"] <= as_of]
    by_status = Counter(dict.fromkeys(STATUSES, 0))
    by_status.update(r["status"] for r in rows)
    users = Counter(r["userId"] for r in rows)
    names = {r["userId"]: r["userName"] for r in rows}
    completed = by_status["completed"] + by_status["failed"]
    durations: dict[str, list[int]] = {t: [] for t in TYPES}
    for r in rows:
        if r["status"] == "completed" and r["durationMs"] is not None:
            durations[r["type"]].append(analytics.duration_bucket(r["durationMs"]))

    def nearest_rank(values: list[int], fraction: float) -> int | None:
        ordered = sorted(values)
        return ordered[math.ceil(fraction * len(ordered)) - 1] if ordered else None

    per_day = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        todays = [r for r in rows if r["createdAt"].date() == day]
        kinds = Counter(r["type"] for r in todays)
        per_day.append(
            {"day": day.isoformat(), **{t: kinds[t] for t in TYPES}, "total": len(todays)}
        )
    top = sorted(users.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "days": days,
        "since": since.isoformat(),
        "total": len(rows),
        "byType": {t: sum(1 for r in rows if r["type"] == t) for t in TYPES},
        "byStatus": dict(by_status),
        "successRate": by_status["completed"] / completed if completed else None,
        "activeUsers": len(users),
        "topUsers": [{"userId": u, "userName": names[u], "count": n} for u, n in top],
        "byEngine": dict(sorted(Counter(r["engine"] for r in rows).items())),
        "durations": {
            t: {
                "count": len(durations[t]),
                "p50": nearest_rank(durations[t], 0.5),
                "p95": nearest_rank(durations[t], 0.95),
            }
            for t in TYPES
        },
        "perDay": per_day,
        "byHour": {f"{h:02d}": sum(1 for r in rows if r["createdAt"].hour == h) for h in range(24)},
    }


def answer(rollup_store: RollupStore, days: int) -> dict[str, Any]:
    found = rollups.window_answer(rollup_store, rollups.GENERATION_ROLLUP, days)
    return {key: value for key, value in found.items() if key != "asOf"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_a_brute_force_recount(db: firestore.Client, seed: int) -> None:
    rng = random.Random(seed)
    seed_history(db, rng, count=rng.randint(150, 400), span_days=rng.randint(20, 120))
    store = RollupStore(db)
    today = datetime.now(UTC).date()
    rollups.backfill(
        store, rollups.GENERATION_ROLLUP, today - timedelta(days=120), today, soon(), lag=NO_LAG
    )
    live_traffic(db, rng, starts=rng.randint(5, 15))
    report = rollups.run_rollup(store, rollups.GENERATION_ROLLUP, soon(), lag=NO_LAG)
    assert report.caught_up
    assert report.events > 0
    as_of = store.meta(rollups.GENERATION_ROLLUP.spec)["asOf"]
    for days in (1, 7, rng.randint(2, 89), 90):
        assert answer(store, days) == brute_force(db, as_of, days), f"window of {days} days"
    assert rollups.check(store, rollups.GENERATION_ROLLUP, today - timedelta(days=120), today) == {}


def test_retried_and_overlapping_runs_count_once(db: firestore.Client) -> None:
    rng = random.Random(7)
    live_traffic(db, rng, starts=12)
    store = RollupStore(db)
    now = soon()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(
            pool.map(
                lambda _: rollups.run_rollup(store, rollups.GENERATION_ROLLUP, now, lag=NO_LAG),
                range(2),
            )
        )
    events = len(list(db.collection("generation_events").stream()))
    assert sum(report.events for report in reports) == events
    again = rollups.run_rollup(store, rollups.GENERATION_ROLLUP, now, lag=NO_LAG)
    assert again.events == 0
    as_of = store.meta(rollups.GENERATION_ROLLUP.spec)["asOf"]
    assert answer(store, 7) == brute_force(db, as_of, 7)


def test_a_late_outcome_moves_the_count_of_its_creation_day(db: firestore.Client) -> None:
    rng = random.Random(11)
    seed_history(db, rng, count=40, span_days=10)
    store = RollupStore(db)
    today = datetime.now(UTC).date()
    rollups.backfill(
        store, rollups.GENERATION_ROLLUP, today - timedelta(days=10), today, soon(), lag=NO_LAG
    )
    old = next(
        doc
        for doc in db.collection("live_generations")
        .where(filter=FieldFilter("status", "==", "processing"))
        .stream()
    )
    day = (old.to_dict() or {})["createdAt"].date().isoformat()
    before = store.day_documents(rollups.GENERATION_ROLLUP.spec, day, day)[day]["byStatus"]
    finish(GenerationStore(db), old.id, "completed", rng)
    rollups.run_rollup(store, rollups.GENERATION_ROLLUP, soon(), lag=NO_LAG)
    after = store.day_documents(rollups.GENERATION_ROLLUP.spec, day, day)[day]["byStatus"]
    assert after["processing"] == before["processing"] - 1
    assert after["completed"] == before.get("completed", 0) + 1


def test_check_names_a_tampered_day(db: firestore.Client) -> None:
    live_traffic(db, random.Random(5), starts=3)
    store = RollupStore(db)
    rollups.run_rollup(store, rollups.GENERATION_ROLLUP, soon(), lag=NO_LAG)
    today = datetime.now(UTC).date()
    assert rollups.check(store, rollups.GENERATION_ROLLUP, today, today) == {}
    db.document(f"analytics_days/{today.isoformat()}").update({"total": 999})
    assert list(rollups.check(store, rollups.GENERATION_ROLLUP, today, today)) == [
        today.isoformat()
    ]


def test_a_dashboard_request_reads_one_document_at_any_volume(db: firestore.Client) -> None:
    store = RollupStore(db)
    today = datetime.now(UTC).date()
    reads = []
    for count in (50, 500):
        seed_history(db, random.Random(count), count=count, span_days=30, prefix=f"seed{count}")
        rollups.backfill(
            store, rollups.GENERATION_ROLLUP, today - timedelta(days=30), today, soon(), lag=NO_LAG
        )
        with counting_document_reads() as counted:
            result = rollups.window_answer(store, rollups.GENERATION_ROLLUP, 30)
        reads.append(counted.count)
        assert result["total"] >= count * 0.9
    assert reads == [1, 1]


def test_billing_rollup_equals_a_recount_of_the_ledgers(db: firestore.Client) -> None:
    rng = random.Random(3)
    live_traffic(db, rng, starts=10)
    store = RollupStore(db)
    rollups.run_rollup(store, rollups.BILLING_ROLLUP, soon(), lag=NO_LAG)
    as_of = store.meta(rollups.BILLING_ROLLUP.spec)["asOf"]
    facts = [
        rollups.ledger_fact(entry.reference.path, entry.to_dict() or {})
        for entry in db.collection_group("ledger").stream()
    ]
    recount = billing_analytics.recount_billing(facts, as_of)
    expected = billing_analytics.billing_window(recount.days, recount.spenders, as_of.date(), 30)
    found = rollups.window_answer(store, rollups.BILLING_ROLLUP, 30)
    assert {k: v for k, v in found.items() if k != "asOf"} == expected
    assert expected["totals"]["dailyFree"] == 40  # four live users, 10 free credits each
    today = as_of.date()
    assert rollups.check(store, rollups.BILLING_ROLLUP, today, today) == {}


def test_empty_answer_before_any_rollup(db: firestore.Client) -> None:
    found = rollups.window_answer(RollupStore(db), rollups.GENERATION_ROLLUP, 7)
    assert found["asOf"] is None
    assert found["total"] == 0
    assert date.fromisoformat(found["since"]) <= datetime.now(UTC).date()
