"""The feed snapshots as deployed: ``maintainFeedSnapshots``, a Firestore trigger
the Functions emulator runs, keeps every view's snapshot equal to its query
through callable traffic (starts, status reports, cancels, private generations,
moderation), never writes one more than once a period, and never lets a
private prompt or an email in."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters.collections import FEED_SNAPSHOTS
from generations_live.adapters.feed_snapshots import FeedSnapshotStore
from generations_live.domain.feed_views import ALL_VIEWS, VIEWS_BY_ID, slot_of
from harness.clients import AppUser, AuthEmulator, CallableClient, grant_each
from harness.emulators import EmulatorSuite
from harness.state import unequal_feed_views

TYPES = ("image", "video", "audio", "text")
STEPS = 45
SETTLE_DEADLINE_S = 60.0


class SnapshotWrites:
    """Every write of a snapshot document a listener sees: its period and commit time."""

    def __init__(self, db: firestore.Client) -> None:
        self._lock = threading.Lock()
        self.writes: dict[str, dict[Any, int]] = defaultdict(dict)
        self._watch: Any = db.collection(FEED_SNAPSHOTS).on_snapshot(self._on_snapshot)

    def _on_snapshot(self, documents: Any, changes: Any, read_time: Any) -> None:
        del documents, read_time
        with self._lock:
            for change in changes:
                document = change.document
                if document.exists:
                    self.writes[document.id][document.update_time] = int(document.get("slot"))

    def stop(self) -> None:
        self._watch.unsubscribe()


def difference(db: firestore.Client, view_id: str) -> str:
    """What a stale view shows against its query, and its lease: for a failure's message."""
    view = VIEWS_BY_ID[view_id]
    store = FeedSnapshotStore(db)
    expected = {doc.id: doc.get("status") for doc in store.query(view).stream()}
    stored = db.collection(FEED_SNAPSHOTS).document(view_id).get()
    shown = {e["id"]: e["status"] for e in (stored.get("entries") if stored.exists else [])}
    lease = store.leases([view])[view]
    return (
        f"{view_id}: query {expected}, snapshot {shown} "
        f"(slot {stored.get('slot') if stored.exists else None}, "
        f"written {stored.update_time if stored.exists else None}); lease {lease}"
    )


def traffic(
    api: CallableClient, users: list[AppUser], worker: AppUser, admin: AppUser, seed: int
) -> dict[str, str]:
    """Random callable traffic; the private prompts it used, by generation id."""
    rng = random.Random(seed)
    owners: dict[str, AppUser] = {}
    processing: list[str] = []
    private_prompts: dict[str, str] = {}
    for step in range(STEPS):
        roll = rng.random()
        if not processing or roll < 0.45:
            owner = rng.choice(users)
            private = rng.random() < 0.25
            prompt = f"{'secret' if private else 'public'} prompt {step} {rng.randrange(10**6)}"
            data = {
                "type": rng.choice(TYPES),
                "prompt": prompt,
                "visibility": "private" if private else "public",
            }
            generation_id = api.call("trackGeneration", data, id_token=owner.id_token)[
                "generationId"
            ]
            owners[generation_id] = owner
            processing.append(generation_id)
            if private:
                private_prompts[generation_id] = prompt
        elif roll < 0.75:
            generation_id = processing.pop(rng.randrange(len(processing)))
            report = {"generationId": generation_id, "status": rng.choice(["completed", "failed"])}
            api.call("updateGenerationStatus", report, id_token=worker.id_token)
        elif roll < 0.85:
            generation_id = processing.pop(rng.randrange(len(processing)))
            cancel = {"generationId": generation_id, "status": "canceled"}
            api.call("updateGenerationStatus", cancel, id_token=owners[generation_id].id_token)
        else:
            generation_id = rng.choice(sorted(owners))
            action = rng.choice(["hide", "hide", "restore"])
            decision = {"generationId": generation_id, "action": action, "reason": "feed test"}
            api.call("moderateGeneration", decision, id_token=admin.id_token)
            if generation_id in processing and action == "hide":
                processing.remove(generation_id)  # hiding cancels it
    return private_prompts


@pytest.fixture
def feed_db(suite: EmulatorSuite) -> firestore.Client:
    return suite.firestore_client()


def test_every_snapshot_equals_its_query_after_random_callable_traffic(
    api: CallableClient,
    auth: AuthEmulator,
    admin: AppUser,
    worker: AppUser,
    feed_db: firestore.Client,
) -> None:
    users = [auth.create_user(display_name=f"Feed Tester {n}") for n in range(3)]
    grant_each(api, admin, users, 1000, "feed snapshot test")
    watcher = SnapshotWrites(feed_db)
    began = time.time()
    try:
        private_prompts = traffic(api, users, worker, admin, seed=19)
        deadline = time.monotonic() + SETTLE_DEADLINE_S
        while unequal := unequal_feed_views(feed_db):
            if time.monotonic() > deadline:
                details = "\n".join(difference(feed_db, view_id) for view_id in unequal)
                pytest.fail(
                    f"views unlike their queries after {SETTLE_DEADLINE_S:.0f} s:\n{details}"
                )
            time.sleep(0.5)
        ended = time.time()
    finally:
        watcher.stop()

    every_entry = [
        entry
        for view in ALL_VIEWS
        if (stored := feed_db.collection(FEED_SNAPSHOTS).document(view.id).get()).exists
        for entry in stored.get("entries")
    ]
    text = repr(every_entry)
    assert not [prompt for prompt in private_prompts.values() if prompt in text]
    assert not [user.email for user in users if user.email and user.email in text]
    # At most one write per period: each write names a later second than the last,
    # and a document is written no more often than the seconds the test lasted.
    seconds = ended - began
    for view_id, writes in watcher.writes.items():
        slots = [slot for _, slot in sorted(writes.items())]
        assert slots == sorted(set(slots)), f"{view_id}: two writes for one second"
        assert len(slots) <= seconds + 2, f"{view_id}: {len(slots)} writes in {seconds:.0f} s"
        assert all(slot_of(at) >= slot for at, slot in writes.items())
