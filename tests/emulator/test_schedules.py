"""Scheduled functions as Cloud Scheduler calls them: over HTTP, served
in-process by functions-framework from ``functions/main.py``, against the
Firestore emulator (the Functions emulator does not run schedules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import firestore

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.models import TrackGenerationRequest
from generations_live.services import tracking
from harness.callers import member
from harness.in_process import function_client


def scheduler_headers(at: datetime, job: str) -> dict[str, str]:
    return {
        "X-CloudScheduler-ScheduleTime": at.isoformat().replace("+00:00", "Z"),
        "X-CloudScheduler-JobName": job,
    }


@pytest.mark.usefixtures("emulator")
def test_scheduled_sweeper_fails_stuck_generations_and_releases(db: firestore.Client) -> None:
    store = GenerationStore(db)
    caller = member("slow-user", {"name": "Slow"})
    request = TrackGenerationRequest.model_validate({"type": "video", "prompt": "a long film"})
    started = tracking.track_generation(store, caller, request, settings(), datetime.now(UTC))
    sweeper = function_client("sweepStuckGenerations")

    on_time = sweeper.post("/", headers=scheduler_headers(datetime.now(UTC), "sweep-now"))
    assert on_time.status_code == 200
    public = db.document(f"live_generations/{started['generationId']}").get().to_dict() or {}
    assert public["status"] == "processing"

    later = datetime.now(UTC) + settings().processing_timeout + timedelta(minutes=1)
    for attempt in range(2):  # a retried run finds nothing more to do
        reply = sweeper.post("/", headers=scheduler_headers(later, f"sweep-late-{attempt}"))
        assert reply.status_code == 200
    public = db.document(f"live_generations/{started['generationId']}").get().to_dict() or {}
    assert (public["status"], public["errorCode"]) == ("failed", "timeout")
    account = db.document("billing/slow-user").get().to_dict() or {}
    assert (account["balance"], account["held"]) == (10, 0)
    ledger = [entry.id for entry in db.collection("billing/slow-user/ledger").stream()]
    assert sorted(ledger) == sorted(
        [
            f"daily_free_{datetime.now(UTC).date()}",
            f"hold_{started['generationId']}",
            f"release_{started['generationId']}",
        ]
    )


@pytest.mark.usefixtures("emulator")
def test_scheduled_rollup_folds_generations_and_ledgers(db: firestore.Client) -> None:
    store = GenerationStore(db)
    caller = member("rollup-user", {"name": "Roll"})
    request = TrackGenerationRequest.model_validate({"type": "audio", "prompt": "a tune"})
    tracking.track_generation(store, caller, request, settings(), datetime.now(UTC))
    rollup = function_client("rollupAnalytics")
    # The scheduled run stays ROLLUP_LAG_SECONDS behind; with no lag, now.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROLLUP_LAG_SECONDS", "0")
        for attempt in range(2):  # a retried run counts nothing twice
            reply = rollup.post("/", headers=scheduler_headers(datetime.now(UTC), f"r-{attempt}"))
            assert reply.status_code == 200
    today = datetime.now(UTC).date().isoformat()
    day = db.document(f"analytics_days/{today}").get().to_dict() or {}
    assert (day["total"], day["byType"]["audio"]) == (1, 1)
    week = db.document("analytics_windows/7").get().to_dict() or {}
    assert (week["total"], week["activeUsers"]) == (1, 1)
    credits = db.document(f"billing_analytics_days/{today}").get().to_dict() or {}
    assert credits["credits"]["dailyFree"] == 10
