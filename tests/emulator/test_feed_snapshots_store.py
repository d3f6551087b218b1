"""The feed snapshots' maintenance against the real Firestore emulator: a
snapshot equals its query after any mix of changes, concurrent refreshes of
one burst rewrite a snapshot at most once per period, and the schedule's
rebuild puts right what a missed change left stale."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters.collections import FEED_SNAPSHOTS, LIVE_GENERATIONS
from generations_live.adapters.feed_snapshots import FeedSnapshotStore, Lease
from generations_live.domain.feed_views import (
    ALL_VIEWS,
    SNAPSHOT_SIZE,
    VIEWS_BY_ID,
    FeedView,
    slot_of,
    snapshot_entries,
    views_changed_by,
)
from generations_live.services import feed_snapshots

TYPES = ("image", "video", "audio", "text")
STATUSES = ("processing", "completed", "failed", "canceled")
EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


def feed_document(rng: random.Random, number: int) -> dict[str, Any]:
    public = rng.random() < 0.7
    return {
        "userId": f"user-{rng.randrange(5)}",
        "userName": f"User {rng.randrange(5)}",
        "type": rng.choice(TYPES),
        "engine": "flux",
        "prompt": f"prompt number {number}" if public else None,
        "status": rng.choice(STATUSES),
        "batchSize": 1,
        # Distinct, so the expected order does not depend on ties.
        "createdAt": EPOCH + timedelta(seconds=number),
        "updatedAt": EPOCH + timedelta(seconds=number),
        "completedAt": None,
        "durationMs": None,
        "errorCode": None,
        "hidden": False,
        "expireAt": EPOCH + timedelta(days=30),
        "preview": None,
        "outputCount": None,
        "textExcerpt": None,
    }


def expected_entries(store: FeedSnapshotStore, view: FeedView) -> list[dict[str, Any]]:
    """What the view's query answers now, as snapshot entries."""
    return snapshot_entries((each.id, each.to_dict() or {}) for each in store.query(view).stream())


def stored_entries(db: firestore.Client, view: FeedView) -> list[dict[str, Any]] | None:
    stored = db.collection(FEED_SNAPSHOTS).document(view.id).get()
    return list(stored.get("entries")) if stored.exists else None


def change(db: firestore.Client, generation_id: str, fields: dict[str, Any] | None) -> datetime:
    """Write (or delete, for None) one feed document; its commit time."""
    reference = db.collection(LIVE_GENERATIONS).document(generation_id)
    result = reference.delete() if fields is None else reference.set(fields)
    committed: datetime = result.update_time if fields is not None else datetime.now(UTC)
    return committed


class PastClock:
    """A clock a second further on at each reading, years back: every refresh finds
    its view idle (its lease names an earlier second) and rebuilds at once, so a
    long sequence of changes runs without waiting for real seconds. Being in the
    past, its seconds never start after a real commit, so no change is taken as
    covered by a claim made before it."""

    def __init__(self) -> None:
        self._now = datetime(2020, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


def no_wait(seconds: float) -> None:
    del seconds


def test_every_snapshot_equals_its_query_after_random_changes(db: firestore.Client) -> None:
    rng = random.Random(20261203)
    store = FeedSnapshotStore(db)
    clock = PastClock()
    documents: dict[str, dict[str, Any] | None] = {}
    for number in range(100):
        generation_id = f"gen-{number:03d}"
        before = None
        if documents and rng.random() < 0.35:
            # A later change to an existing generation: a status change, moderation,
            # or its deletion.
            generation_id = rng.choice(sorted(documents))
            before = documents[generation_id]
            if before is None:
                continue
            roll = rng.random()
            after: dict[str, Any] | None
            if roll < 0.15:
                after = None
            elif roll < 0.35:
                after = {**before, "hidden": not before["hidden"], "prompt": None}
            else:
                after = {**before, "status": rng.choice(STATUSES), "durationMs": 1200}
        else:
            after = feed_document(rng, number)
        documents[generation_id] = after
        committed = change(db, generation_id, after)
        views = views_changed_by(before, after)
        feed_snapshots.refresh(store, views, committed, clock=clock, sleep=no_wait)
    # The newest generation hidden by moderation, and another of the 50 deleted.
    newest, other = sorted(gid for gid, fields in documents.items() if fields)[-2:]
    hidden_before = documents[newest]
    assert hidden_before is not None
    hidden = {**hidden_before, "hidden": True, "prompt": None}
    for generation_id, before, after in (
        (newest, hidden_before, hidden),
        (other, documents[other], None),
    ):
        committed = change(db, generation_id, after)
        views = views_changed_by(before, after)
        feed_snapshots.refresh(store, views, committed, clock=clock, sleep=no_wait)

    for view in ALL_VIEWS:
        expected = expected_entries(store, view)
        stored = stored_entries(db, view)
        assert (stored or []) == expected, view.id
    all_view = stored_entries(db, VIEWS_BY_ID["all"])
    assert all_view is not None
    assert len(all_view) == SNAPSHOT_SIZE
    by_id = {entry["id"]: entry for entry in all_view}
    assert by_id[newest]["hidden"] is True, "moderation reaches the snapshot"
    assert by_id[newest]["prompt"] is None
    assert other not in by_id, "a deleted generation leaves it"
    assert any(entry["prompt"] is None for entry in all_view), "private prompts stay out"


class CountingStore(FeedSnapshotStore):
    """The store, counting the builds of each period."""

    def __init__(self, client: firestore.Client) -> None:
        super().__init__(client)
        self.builds: Counter[int] = Counter()
        self.lease_reads = 0
        self._lock = threading.Lock()

    def leases(self, views: Sequence[FeedView]) -> dict[FeedView, Lease | None]:
        with self._lock:
            self.lease_reads += 1
        return super().leases(views)

    def build(self, view: FeedView, slot: int) -> bool:
        with self._lock:
            self.builds[slot] += 1
        return super().build(view, slot)


def test_a_burst_rewrites_a_snapshot_at_most_once_a_period(db: firestore.Client) -> None:
    store = CountingStore(db)
    rng = random.Random(7)
    view = VIEWS_BY_ID["all"]
    builds = store.builds
    memo = feed_snapshots.LeaseMemo()  # one instance's, shared by its concurrent changes

    def one_change(number: int) -> feed_snapshots.RefreshReport:
        # Spread over about three seconds, so the burst spans several periods.
        time.sleep(max(0.0, began + number * 0.025 - time.monotonic()))
        fields = feed_document(rng, number)
        committed = change(db, f"burst-{number:03d}", fields)
        return feed_snapshots.refresh(store, [view], committed, memo=memo)

    first_slot = slot_of(datetime.now(UTC))
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        reports = list(pool.map(one_change, range(120)))
    last_slot = slot_of(datetime.now(UTC))

    assert all(count == 1 for count in builds.values()), builds
    assert 2 <= len(builds) <= last_slot - first_slot + 2
    assert not any(report.abandoned for report in reports)
    covered = sum(len(report.covered) for report in reports)
    assert covered == 120 - sum(builds.values()), "every other change rides on a rebuild"
    assert covered > 60
    assert store.lease_reads < 60, "most changes are covered by a lease already seen"
    assert stored_entries(db, view) == expected_entries(store, view)


def test_the_schedule_rebuild_mends_a_missed_change(db: firestore.Client) -> None:
    store = FeedSnapshotStore(db)
    rng = random.Random(3)
    for number in range(5):
        fields = feed_document(rng, number)
        feed_snapshots.refresh(
            store, views_changed_by(None, fields), change(db, f"g{number}", fields)
        )
    # A change whose trigger never ran: the snapshot still shows the old document.
    change(db, "g0", None)
    assert any(entry["id"] == "g0" for entry in stored_entries(db, VIEWS_BY_ID["all"]) or [])

    report = feed_snapshots.rebuild_all(store)

    assert "all" in report.written
    assert not report.abandoned
    for view in ALL_VIEWS:
        assert (stored_entries(db, view) or []) == expected_entries(store, view), view.id
    # Nothing changed since: a second rebuild writes nothing (listeners pay per write).
    again = feed_snapshots.rebuild_all(store)
    assert again.written == []


def test_a_snapshot_of_long_prompts_stays_far_below_a_document_s_limit(
    db: firestore.Client,
) -> None:
    store = FeedSnapshotStore(db)
    rng = random.Random(11)
    # The worst case: 50 prompts at the 4,000-character bound, in 3-byte characters.
    for number in range(SNAPSHOT_SIZE):
        fields = {**feed_document(rng, number), "prompt": "灯" * 4000, "status": "completed"}
        change(db, f"long-{number:02d}", fields)
    view = VIEWS_BY_ID["all"]
    assert store.build(view, slot_of(datetime.now(UTC)))
    entries = stored_entries(db, view)
    assert entries is not None
    assert len(entries) == SNAPSHOT_SIZE
    assert all(entry["promptTruncated"] for entry in entries)
    size = sum(len(str(entry).encode()) for entry in entries)
    assert size < 200 * 1024, f"{size} bytes"


@pytest.mark.parametrize(
    "view_id", ["all", "type-video", "status-failed", "type-audio-status-canceled"]
)
def test_a_view_is_written_only_when_a_change_touches_it(
    db: firestore.Client, view_id: str
) -> None:
    store = FeedSnapshotStore(db)
    fields = {**feed_document(random.Random(1), 1), "type": "image", "status": "completed"}
    committed = change(db, "only-image", fields)
    report = feed_snapshots.refresh(store, views_changed_by(None, fields), committed)
    touched = VIEWS_BY_ID[view_id].matches(fields)
    assert (view_id in report.written) is touched
    assert (stored_entries(db, VIEWS_BY_ID[view_id]) is not None) is touched


def test_forgetting_a_user_leaves_no_snapshot_showing_them(db: firestore.Client) -> None:
    store = FeedSnapshotStore(db)
    rng = random.Random(5)
    for number in range(8):
        fields = {**feed_document(rng, number), "userId": "erased" if number % 2 else "kept"}
        feed_snapshots.refresh(
            store, views_changed_by(None, fields), change(db, f"f{number}", fields)
        )
    assert store.views_showing("erased")
    # The user's feed documents go, and no trigger runs for them.
    for number in range(1, 8, 2):
        change(db, f"f{number}", None)

    assert feed_snapshots.forget_user(store, "erased")

    assert store.views_showing("erased") == []
    assert store.views_showing("kept")


def test_a_task_naming_a_far_period_is_refused_before_it_writes(db: firestore.Client) -> None:
    store = FeedSnapshotStore(db)
    view = VIEWS_BY_ID["all"]
    fields = feed_document(random.Random(2), 1)
    change(db, "far-1", fields)
    far = slot_of(datetime.now(UTC)) + 3600
    # Stored, an hour's period would make every rebuild for an hour look overtaken.
    assert feed_snapshots.rebuild_when_due(store, view, far) is False
    assert stored_entries(db, view) is None
    due = slot_of(datetime.now(UTC))
    assert feed_snapshots.rebuild_when_due(store, view, due) is True
    assert stored_entries(db, view) == expected_entries(store, view)
