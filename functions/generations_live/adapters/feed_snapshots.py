"""The feed's snapshot documents and their leases in Firestore.

A lease (``feed_snapshot_leases/{view}``, ``{slot}``) names the last period
someone claimed for rebuilding the view. Claiming is one conditional write
(create, or update only if the lease is unchanged since it was read), so one
claimer wins each period and a snapshot is written at most once per period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from generations_live.adapters.collections import (
    FEED_SNAPSHOT_LEASES,
    FEED_SNAPSHOTS,
    LIVE_GENERATIONS,
)
from generations_live.domain.feed_views import (
    ALL_VIEWS,
    SNAPSHOT_SIZE,
    FeedView,
    snapshot_entries,
)


@dataclass(frozen=True)
class Lease:
    """The last period claimed for a view, and when the claim was committed."""

    slot: int
    claimed_at: datetime


@dataclass(frozen=True)
class Snapshot:
    """A view's snapshot as stored."""

    entries: list[dict[str, Any]]
    slot: int
    as_of: datetime | None


class FeedSnapshotStore:
    def __init__(self, client: firestore.Client) -> None:
        self._client = client

    def _lease_ref(self, view: FeedView) -> firestore.DocumentReference:
        return self._client.collection(FEED_SNAPSHOT_LEASES).document(view.id)

    def _snapshot_ref(self, view: FeedView) -> firestore.DocumentReference:
        return self._client.collection(FEED_SNAPSHOTS).document(view.id)

    def leases(self, views: Sequence[FeedView]) -> dict[FeedView, Lease | None]:
        """Each view's lease, in one batched read; None for a view never claimed."""
        by_path = {self._lease_ref(view).path: view for view in views}
        found: dict[FeedView, Lease | None] = dict.fromkeys(views)
        for snapshot in self._client.get_all([self._lease_ref(view) for view in views]):
            if snapshot.exists and snapshot.update_time is not None:
                found[by_path[snapshot.reference.path]] = Lease(
                    slot=int(snapshot.get("slot")), claimed_at=snapshot.update_time
                )
        return found

    def claim(self, view: FeedView, slot: int, seen: Lease | None) -> datetime | None:
        """Claim ``slot`` for ``view`` if its lease is still as ``seen``; when the
        claim was committed, or None when someone else changed the lease first."""
        reference = self._lease_ref(view)
        try:
            if seen is None:
                result = reference.create({"slot": slot})
            else:
                unchanged = self._client.write_option(last_update_time=seen.claimed_at)
                result = reference.update({"slot": slot}, option=unchanged)
        except (google_exceptions.AlreadyExists, google_exceptions.FailedPrecondition):
            return None
        committed: datetime | None = result.update_time
        return committed

    def query(self, view: FeedView) -> firestore.Query:
        """The feed query the view stands for, as a dashboard would run it."""
        feed: Any = self._client.collection(LIVE_GENERATIONS)
        for field, value in view.filters():
            if value is not None:
                feed = feed.where(filter=FieldFilter(field, "==", value))
        ordered: firestore.Query = feed.order_by(
            "createdAt", direction=firestore.Query.DESCENDING
        ).limit(SNAPSHOT_SIZE)
        return ordered

    def build(self, view: FeedView, slot: int) -> bool:
        """Run the view's query and store its entries as the snapshot of ``slot``,
        unless a later period's build is already stored or nothing changed;
        whether the snapshot was written."""
        documents = list(self.query(view).stream())
        entries = snapshot_entries((each.id, each.to_dict() or {}) for each in documents)
        as_of = max((each.read_time for each in documents if each.read_time), default=None)
        reference = self._snapshot_ref(view)
        fields = {
            "view": {"type": view.type, "status": view.status},
            "entries": entries,
            "slot": slot,
            "asOf": as_of or datetime.now(UTC),
            "builtAt": firestore.SERVER_TIMESTAMP,
        }
        while True:
            stored = reference.get()
            if stored.exists:
                if int(stored.get("slot")) >= slot:
                    return False  # a later period's build overtook this one
                if stored.get("entries") == entries:
                    return False  # listeners pay a read per write: write only a change
            # Written only if unchanged since read (or still absent); when another
            # build wrote in between, read again: it may be an earlier period's.
            try:
                if stored.exists:
                    unchanged = self._client.write_option(last_update_time=stored.update_time)
                    reference.update(fields, option=unchanged)
                else:
                    reference.create(fields)
            except (google_exceptions.AlreadyExists, google_exceptions.FailedPrecondition):
                continue
            return True

    def views_showing(self, uid: str) -> list[FeedView]:
        """The views whose snapshot has an entry of this user (one batched read of all)."""
        references = [self._snapshot_ref(view) for view in ALL_VIEWS]
        by_path = {
            reference.path: view for reference, view in zip(references, ALL_VIEWS, strict=True)
        }
        showing = []
        for stored in self._client.get_all(references):
            entries = (stored.to_dict() or {}).get("entries", []) if stored.exists else []
            if any(entry.get("userId") == uid for entry in entries):
                showing.append(by_path[stored.reference.path])
        return showing

    def snapshot(self, view: FeedView) -> Snapshot | None:
        stored = self._snapshot_ref(view).get()
        if not stored.exists:
            return None
        fields = stored.to_dict() or {}
        return Snapshot(
            entries=list(fields.get("entries", [])),
            slot=int(fields.get("slot", -1)),
            as_of=fields.get("asOf"),
        )
