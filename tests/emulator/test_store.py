"""The store and use cases against the real Firestore emulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.credits import CreditPolicy
from generations_live.domain.errors import FailedPrecondition, NotFound, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.models import (
    GetLiveGenerationsRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.services import tracking
from harness.callers import member

# Plenty of daily credits: these tests are about tracking, not money.
SETTINGS = replace(
    settings(), credit_policy=CreditPolicy(overdraft_allowance=10, daily_free_floor=1000)
)
ALICE = member("alice", {"name": "Alice", "email": "alice@example.com"})
BOB = member("bob", {"name": "Bob", "email": "bob@example.com"})
WORKER = member("worker-1", {"name": "Worker", "worker": True})


def now() -> datetime:
    return datetime.now(UTC)


def start(store: GenerationStore, caller: Caller = ALICE, **fields: Any) -> str:
    request = TrackGenerationRequest.model_validate({"type": "image", "prompt": "a fox", **fields})
    result = tracking.track_generation(store, caller, request, SETTINGS, now())
    generation_id: str = result["generationId"]
    return generation_id


def update(store: GenerationStore, caller: Caller, generation_id: str, **fields: Any) -> None:
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, **fields}
    )
    tracking.update_generation_status(store, caller, request, now())


def both_halves(db: firestore.Client, uid: str, generation_id: str) -> tuple[dict[str, Any], ...]:
    public = db.collection("live_generations").document(generation_id).get()
    private = db.collection("users").document(uid).collection("generations").document(generation_id)
    return public.to_dict() or {}, private.get().to_dict() or {}


@pytest.fixture
def store(db: firestore.Client) -> GenerationStore:
    return GenerationStore(db)


def test_start_writes_public_and_private_halves(
    db: firestore.Client, store: GenerationStore
) -> None:
    generation_id = start(store, requestId="req-00000001")
    public, private = both_halves(db, "alice", generation_id)
    assert public["status"] == private["status"] == "processing"
    assert public["userName"] == "Alice"
    assert "userEmail" not in public
    assert "requestId" not in public
    assert private["userEmail"] == "alice@example.com"
    assert private["requestId"] == "req-00000001"
    assert public["createdAt"] == private["createdAt"]
    assert public["expireAt"] - public["createdAt"] > timedelta(days=29)


def test_retry_with_same_request_id_writes_nothing_new(
    db: firestore.Client, store: GenerationStore
) -> None:
    first = start(store, requestId="req-retry-1")
    created = both_halves(db, "alice", first)[0]["createdAt"]
    second = start(store, requestId="req-retry-1", prompt="a different prompt")
    assert second == first
    public, private = both_halves(db, "alice", first)
    assert public["createdAt"] == created
    assert private["prompt"] == "a fox"
    assert len(list(db.collection("live_generations").stream())) == 1
    # The same request id from another user is another generation.
    assert start(store, BOB, requestId="req-retry-1") != first


def test_concurrent_retries_create_one_generation(
    db: firestore.Client, store: GenerationStore
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(lambda _: start(store, requestId="req-burst-01"), range(4)))
    assert len(set(ids)) == 1
    assert len(list(db.collection("live_generations").stream())) == 1
    assert len(list(db.collection("users/alice/generations").stream())) == 1


def test_worker_completes_and_repeat_is_idempotent(
    db: firestore.Client, store: GenerationStore
) -> None:
    generation_id = start(store)
    update(store, WORKER, generation_id, status="completed", durationMs=2500)
    public, private = both_halves(db, "alice", generation_id)
    assert public["status"] == private["status"] == "completed"
    assert public["durationMs"] == 2500
    assert public["completedAt"] is not None
    stamped = public["updatedAt"]
    update(store, WORKER, generation_id, status="completed", durationMs=9999)
    public, _ = both_halves(db, "alice", generation_id)
    assert public["updatedAt"] == stamped
    assert public["durationMs"] == 2500


def test_failure_keeps_its_message_private(db: firestore.Client, store: GenerationStore) -> None:
    generation_id = start(store)
    error = {"code": "safety_filter", "message": "prompt mentions a real person"}
    update(store, WORKER, generation_id, status="failed", error=error)
    public, private = both_halves(db, "alice", generation_id)
    assert public["errorCode"] == private["errorCode"] == "safety_filter"
    assert "errorMessage" not in public
    assert private["errorMessage"] == "prompt mentions a real person"
    assert public["durationMs"] >= 0


def test_terminal_state_is_final(db: firestore.Client, store: GenerationStore) -> None:
    generation_id = start(store)
    update(store, ALICE, generation_id, status="canceled")
    with pytest.raises(FailedPrecondition):
        update(store, WORKER, generation_id, status="completed")
    assert both_halves(db, "alice", generation_id)[0]["status"] == "canceled"


def test_permissions_and_unknown_ids(db: firestore.Client, store: GenerationStore) -> None:
    generation_id = start(store)
    with pytest.raises(PermissionDenied):
        update(store, BOB, generation_id, status="canceled")
    with pytest.raises(PermissionDenied):
        update(store, ALICE, generation_id, status="completed")
    with pytest.raises(NotFound):
        update(store, WORKER, "does-not-exist", status="completed")
    assert both_halves(db, "alice", generation_id)[0]["status"] == "processing"


def test_concurrent_outcomes_leave_exactly_one_terminal_state(
    db: firestore.Client, store: GenerationStore
) -> None:
    generation_id = start(store)
    outcomes: list[str] = []

    def report(status: str) -> None:
        try:
            update(store, WORKER, generation_id, status=status)
            outcomes.append(status)
        except FailedPrecondition:
            outcomes.append("refused")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(report, ["completed", "failed"]))
    public, private = both_halves(db, "alice", generation_id)
    assert sorted(outcomes) == sorted([public["status"], "refused"])
    assert private["status"] == public["status"]


def test_live_feed_is_newest_first_and_filtered(store: GenerationStore) -> None:
    started = [
        start(store, type="image", engine="gemini"),
        start(store, type="video", engine="sora"),
        start(store, type="image", engine="runware", visibility="private"),
    ]
    update(store, WORKER, started[1], status="completed")

    def feed(**query: Any) -> list[dict[str, Any]]:
        request = GetLiveGenerationsRequest.model_validate(query)
        return tracking.live_generations(store, request)

    assert [item["id"] for item in feed()] == started[::-1]
    assert [item["id"] for item in feed(type="image")] == [started[2], started[0]]
    assert [item["id"] for item in feed(status="completed")] == [started[1]]
    assert [item["id"] for item in feed(type="image", engine="runware")] == [started[2]]
    assert [item["id"] for item in feed(limit=1)] == [started[2]]
    assert feed()[0]["prompt"] is None
