"""What the emulator tests read back: every document, and the invariants that
must hold after anything the backend does, however it was interrupted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.cloud import firestore

from generations_live.adapters.collections import (
    GENERATION_EVENTS,
    LIVE_GENERATIONS,
    REQUEST_CLAIMS,
    USER_GENERATIONS,
)
from generations_live.adapters.feed_snapshots import FeedSnapshotStore
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.domain.feed_views import ALL_VIEWS, snapshot_entries
from generations_live.services import billing, rollups

# Invariants are checked over the days the tests write to (a run near
# midnight UTC spans two).
CHECKED_DAYS = 2


def every_document(db: firestore.Client) -> dict[str, Any]:
    """Every document by path, including those under parents that do not exist
    (``list_documents`` lists missing parents too)."""
    found: dict[str, Any] = {}

    def walk(collections: Any) -> None:
        for collection in collections:
            for ref in collection.list_documents():
                snapshot = ref.get()
                if snapshot.exists:
                    found[ref.path] = snapshot.to_dict()
                walk(ref.collections())

    walk(db.collections())
    return found


def generations_have_both_halves(db: firestore.Client) -> list[str]:
    """Generations whose public and private halves disagree or where one is missing,
    and generations without the event that started them."""
    public = {doc.id: doc.to_dict() or {} for doc in db.collection(LIVE_GENERATIONS).stream()}
    private = {
        doc.id: doc.to_dict() or {} for doc in db.collection_group(USER_GENERATIONS).stream()
    }
    problems = [f"{gid}: no private half" for gid in public.keys() - private.keys()]
    problems += [f"{gid}: no public half" for gid in private.keys() - public.keys()]
    for gid in public.keys() & private.keys():
        for field in ("status", "updatedAt", "createdAt", "userId"):
            if public[gid].get(field) != private[gid].get(field):
                problems.append(f"{gid}: {field} differs")
        if not db.collection(GENERATION_EVENTS).document(f"{gid}-start").get().exists:
            problems.append(f"{gid}: no start event")
    return problems


def rollup_mismatches(db: firestore.Client) -> dict[str, Any]:
    """Run every rollup up to now, then compare it with a recount of the raw documents."""
    rollup_store = RollupStore(db)
    # Just past now, so events committed a moment ago are folded.
    until = datetime.now(UTC) + timedelta(seconds=1)
    today: date = until.date()
    mismatches: dict[str, Any] = {}
    for rollup in rollups.ROLLUPS:
        rollups.run_rollup(rollup_store, rollup, until, lag=timedelta(0))
        first_day = today - timedelta(days=CHECKED_DAYS - 1)
        found = rollups.check(rollup_store, rollup, first_day, today)
        # The window answers are recomputed from the day documents: they must
        # have been, since the last event was folded.
        meta = rollup_store.meta(rollup.spec)
        if meta.get("windowsEventsFolded") != meta.get("eventsFolded", 0):
            found["windows"] = {
                "folded": meta.get("eventsFolded"),
                "in windows": meta.get("windowsEventsFolded"),
            }
        if found:
            mismatches[rollup.spec.name] = found
    return mismatches


def invariant_violations(db: firestore.Client, *, with_rollups: bool = True) -> dict[str, Any]:
    """Empty when the ledger audit passes, every generation has both halves, no
    finished call left its request claim behind, and (``with_rollups``) the
    rollups equal a recount."""
    violations: dict[str, Any] = {}
    audit = billing.audit_ledgers(GenerationStore(db))
    if audit["mismatches"]:
        violations["ledger"] = audit["mismatches"]
    halves = generations_have_both_halves(db)
    if halves:
        violations["halves"] = halves
    claims = [claim.get("key") for claim in db.collection(REQUEST_CLAIMS).stream()]
    if claims:
        violations["claims"] = claims
    if with_rollups:
        mismatched = rollup_mismatches(db)
        if mismatched:
            violations["rollups"] = mismatched
    return violations


def unequal_feed_views(db: firestore.Client) -> list[str]:
    """The feed views whose snapshot differs from what their query answers now."""
    store = FeedSnapshotStore(db)
    unequal = []
    for view in ALL_VIEWS:
        expected = snapshot_entries(
            (doc.id, doc.to_dict() or {}) for doc in store.query(view).stream()
        )
        stored = store.snapshot(view)
        if (stored.entries if stored is not None else []) != expected:
            unequal.append(view.id)
    return unequal
