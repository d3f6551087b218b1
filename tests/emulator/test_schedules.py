"""Scheduled functions as Cloud Scheduler calls them: over HTTP, served
in-process by functions-framework from ``functions/main.py``, against the
Firestore emulator (the Functions emulator does not run schedules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import firestore

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.webhooks import WebhookStore
from generations_live.domain.models import RegisterWebhookEndpointRequest, TrackGenerationRequest
from generations_live.domain.webhooks import DeliveryConfig
from generations_live.services import tracking, webhooks
from harness.callers import member
from harness.in_process import function_client
from harness.receiver import Receiver, verified


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


@pytest.mark.usefixtures("emulator")
def test_scheduled_delivery_sends_what_the_dispatcher_missed(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loopback receivers are allowed on the emulators only: this run stands for one.
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
    with Receiver() as receiver:
        request = RegisterWebhookEndpointRequest.model_validate(
            {"url": receiver.url, "events": ["generation.started"]}
        )
        admin = member("hook-admin", {"admin": True})
        endpoint = webhooks.register_endpoint(
            WebhookStore(db), admin, request, DeliveryConfig(allow_loopback=True)
        )
        store = GenerationStore(db)
        started = tracking.track_generation(
            store,
            member("hook-user", {"name": "Hook"}),
            TrackGenerationRequest.model_validate({"type": "text", "prompt": "a haiku"}),
            settings(),
            datetime.now(UTC),
        )
        # No dispatcher ran (no trigger here): the event waits past the fast path's grace.
        (event,) = list(db.collection("webhook_events").stream())
        event.reference.update({"createdAt": datetime.now(UTC) - timedelta(minutes=1)})
        deliverer = function_client("deliverWebhooks")
        reply = deliverer.post("/", headers=scheduler_headers(datetime.now(UTC), "deliver-now"))
        assert reply.status_code == 200
        (received,) = receiver.requests()
        payload = verified(endpoint["secret"], received)
        assert received.webhook_id == event.id
        assert payload["data"]["id"] == started["generationId"]
        # A second run finds nothing left to send.
        again = deliverer.post("/", headers=scheduler_headers(datetime.now(UTC), "again"))
        assert again.status_code == 200
        assert len(receiver.requests()) == 1
