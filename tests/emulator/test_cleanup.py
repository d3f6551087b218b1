"""Retention cleanup against the real Firestore emulator: expired generations
lose both halves, everything else stays, runs are bounded and repeatable."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from PIL import Image

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.credits import CreditPolicy
from generations_live.domain.identity import Caller
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.domain.settings import OutputPolicy
from generations_live.services import maintenance, tracking
from harness.callers import member
from harness.history import UNLIMITED_STARTS
from harness.in_process import function_client
from harness.state import every_document

# Plenty of daily credits and starts: these tests are about retention, not money.
SETTINGS = replace(
    settings(),
    credit_policy=CreditPolicy(overdraft_allowance=10, daily_free_floor=1000),
    rate_limits=UNLIMITED_STARTS,
)
ALICE = member("alice", {"name": "Alice"})
BOB = member("bob", {"name": "Bob"})
WORKER = member("worker-1", {"worker": True})
OUTPUTS = OutputPolicy(bucket="demo-outputs")


@pytest.fixture
def store(db: firestore.Client) -> GenerationStore:
    return GenerationStore(db)


def now() -> datetime:
    return datetime.now(UTC)


def start(store: GenerationStore, caller: Caller = ALICE) -> str:
    request = TrackGenerationRequest.model_validate({"type": "image", "prompt": "a fox"})
    generation_id: str = tracking.track_generation(store, caller, request, SETTINGS, now())[
        "generationId"
    ]
    return generation_id


def complete(store: GenerationStore, generation_id: str, *, with_outputs: bool = False) -> None:
    fields: dict[str, Any] = {}
    if with_outputs:
        uri = f"gs://{OUTPUTS.bucket}/generations/alice/{generation_id}/0.png"
        fields = {"outputs": [{"uri": uri, "contentType": "image/png"}], "preview": preview()}
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": "completed", **fields}
    )
    tracking.update_generation_status(store, WORKER, request, now(), output_policy=OUTPUTS)


def preview() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 60)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def halves(uid: str, generation_id: str) -> set[str]:
    return {f"live_generations/{generation_id}", f"users/{uid}/generations/{generation_id}"}


def backdate(db: firestore.Client, uid: str, generation_id: str, created_at: datetime) -> None:
    for path in halves(uid, generation_id):
        db.document(path).update({"createdAt": created_at})


def expired_at() -> datetime:
    return now() - SETTINGS.retention - timedelta(days=1)


def test_cleanup_deletes_only_expired_generations(
    db: firestore.Client, store: GenerationStore
) -> None:
    old_alice, old_bob = start(store), start(store, BOB)
    complete(store, old_alice, with_outputs=True)
    recent = start(store)
    complete(store, recent)
    backdate(db, "alice", old_alice, expired_at())
    backdate(db, "bob", old_bob, expired_at())
    # Analytics events are another job's to remove, even those of deleted generations.
    db.document(f"generation_events/{old_alice}-start").set({"at": expired_at()})
    before = every_document(db)
    # A preview and an output record go with their generation.
    produced = {f"previews/{old_alice}", f"generation_outputs/{old_alice}"}
    deleted_paths = halves("alice", old_alice) | halves("bob", old_bob) | produced
    assert deleted_paths <= set(before)
    assert any(path.startswith("billing/alice/ledger/") for path in before)
    assert any(path.startswith("users/bob/usage/") for path in before)

    batches: list[int] = []
    assert maintenance.cleanup_generations(store, SETTINGS, now(), on_batch=batches.append) == 2
    assert batches == [2]
    after = every_document(db)
    assert after == {path: doc for path, doc in before.items() if path not in deleted_paths}
    assert halves("alice", recent) <= set(after)
    assert maintenance.cleanup_generations(store, SETTINGS, now()) == 0
    assert every_document(db) == after


def test_a_generation_exactly_at_the_retention_is_kept(
    db: firestore.Client, store: GenerationStore
) -> None:
    at = now()
    generation_id = start(store)
    backdate(db, "alice", generation_id, at - SETTINGS.retention)
    assert maintenance.cleanup_generations(store, SETTINGS, at) == 0
    assert maintenance.cleanup_generations(store, SETTINGS, at + timedelta(seconds=1)) == 1


def test_runs_are_bounded_and_the_next_run_continues(
    db: firestore.Client, store: GenerationStore
) -> None:
    expired = [start(store) for _ in range(5)]
    for offset, generation_id in enumerate(expired):
        backdate(db, "alice", generation_id, expired_at() - timedelta(minutes=offset))
    kept = start(store)

    batches: list[int] = []
    assert (
        maintenance.cleanup_generations(
            store, SETTINGS, now(), batch_size=2, max_batches=2, on_batch=batches.append
        )
        == 4
    )
    assert batches == [2, 2]
    # Oldest first: the one left is the most recent of the expired.
    remaining = {doc.id for doc in db.collection("live_generations").stream()}
    assert remaining == {expired[0], kept}
    assert maintenance.cleanup_generations(store, SETTINGS, now(), batch_size=2) == 1
    assert maintenance.cleanup_generations(store, SETTINGS, now(), batch_size=2) == 0
    assert {doc.id for doc in db.collection("users/alice/generations").stream()} == {kept}


def test_deleting_more_than_one_batched_write_holds_and_repeats(
    db: firestore.Client, store: GenerationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 300 generations are 1200 deletes (both halves, the preview and the output
    # record): more than one batched write may carry (500), though the emulator
    # does not enforce it, so commits are recorded.
    generations = [(f"gen-{n:04d}", f"user-{n % 7}") for n in range(300)]
    for first in range(0, len(generations), 200):
        batch = db.batch()
        for generation_id, uid in generations[first : first + 200]:
            fields = {"userId": uid, "createdAt": expired_at()}
            batch.set(db.document(f"live_generations/{generation_id}"), fields)
            batch.set(db.document(f"users/{uid}/generations/{generation_id}"), fields)
        batch.commit()
    assert len(store.expired_generations(now(), 1000)) == 300
    committed: list[int] = []
    original_commit = WriteBatch.commit

    def recording_commit(self: WriteBatch, *args: Any, **kwargs: Any) -> Any:
        committed.append(len(self._write_pbs))
        return original_commit(self, *args, **kwargs)

    monkeypatch.setattr(WriteBatch, "commit", recording_commit)
    store.delete_generations(generations)
    assert committed == [500, 500, 200]
    store.delete_generations(generations)  # all already gone: no error
    assert every_document(db) == {}


def test_overlapping_runs_delete_everything_and_fail_on_nothing(
    db: firestore.Client, store: GenerationStore
) -> None:
    expired = [start(store) for _ in range(6)]
    for generation_id in expired:
        backdate(db, "alice", generation_id, expired_at())

    def run(_: int) -> int:
        return maintenance.cleanup_generations(store, SETTINGS, now(), batch_size=2)

    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = list(pool.map(run, range(3)))
    # A generation two runs both saw may be counted by both.
    assert 6 <= sum(counts) <= 18
    assert list(db.collection("live_generations").stream()) == []
    assert list(db.collection("users/alice/generations").stream()) == []


@pytest.mark.usefixtures("emulator")
def test_scheduled_cleanup_over_http(db: firestore.Client) -> None:
    scheduler = function_client("cleanupGenerations")
    store = GenerationStore(db)
    old, recent = start(store), start(store)
    backdate(db, "alice", old, expired_at())

    for attempt in range(2):  # a retried run finds nothing more to do
        at = now().isoformat().replace("+00:00", "Z")
        reply = scheduler.post(
            "/",
            headers={
                "X-CloudScheduler-ScheduleTime": at,
                "X-CloudScheduler-JobName": f"cleanup-{attempt}",
            },
        )
        assert reply.status_code == 200
    assert {doc.id for doc in db.collection("live_generations").stream()} == {recent}
    assert {doc.id for doc in db.collection("users/alice/generations").stream()} == {recent}
