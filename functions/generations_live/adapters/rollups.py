"""Firestore side of the analytics rollups: event cursors, daily counter
documents, per-day user shards and precomputed window answers.

One engine serves both rollups (generations from ``generation_events``,
billing from every ``ledger``); a ``RollupSpec`` names their collections.
Each batch is one transaction that reads the cursor, reads the next events
after it and adds their counters: a retried or overlapping run either sees
the advanced cursor or aborts, so no event is ever counted twice.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from generations_live.adapters import collections
from generations_live.adapters.firestore import MAX_BATCH_WRITES, run_transaction
from generations_live.domain import erasure
from generations_live.domain.analytics import GenerationSnapshot
from generations_live.domain.errors import FailedPrecondition
from generations_live.domain.identity import ANONYMOUS_DISPLAY_NAME
from generations_live.domain.windows import utc_day_bounds

# Users of one day are spread over this many documents by a hash of their id,
# so a day's user map stays far below Firestore's 1 MiB per document (about
# 25,000 users a shard). Changing it needs a backfill of the shards.
USER_SHARDS = 16
# A client can create accounts, so a day's users must not grow a shard past
# Firestore's 1 MiB: each shard names at most this many users (a uid and a name
# of at most 80 characters each, about 500 bytes at worst), 24,000 a day in all;
# the generations of users past it are counted in the shard's ``overflow``.
MAX_USERS_PER_SHARD = 1_500
# Most rollup documents a batch may write besides the cursor (Firestore allows
# 500 writes per transaction): a batch covers at most a few days.
MAX_ROLLUP_WRITES = MAX_BATCH_WRITES - 50


@dataclass(frozen=True)
class RollupSpec:
    name: str
    event_group: str  # collection id, queried as a collection group
    time_field: str
    days_collection: str
    users_collection: str
    windows_collection: str


GENERATIONS = RollupSpec(
    name="generations",
    event_group=collections.GENERATION_EVENTS,
    time_field="at",
    days_collection=collections.ANALYTICS_DAYS,
    users_collection=collections.ANALYTICS_DAY_USERS,
    windows_collection=collections.ANALYTICS_WINDOWS,
)
BILLING = RollupSpec(
    name="billing",
    event_group=collections.LEDGER,
    time_field="createdAt",
    days_collection=collections.BILLING_ANALYTICS_DAYS,
    users_collection=collections.BILLING_ANALYTICS_DAY_USERS,
    windows_collection=collections.BILLING_ANALYTICS_WINDOWS,
)


@dataclass
class FoldedBatch:
    """What one batch of events adds: day counters, per-day user counts, names."""

    days: dict[str, dict[str, Any]]
    users: dict[str, dict[str, int]]
    names: dict[str, str]


@dataclass(frozen=True)
class BatchOutcome:
    events: int
    caught_up: bool


@dataclass(frozen=True)
class StoredRollup:
    """A rollup's cursor and the documents it has written, read at one instant."""

    meta: dict[str, Any]
    days: dict[str, dict[str, Any]]
    users: dict[str, dict[str, int]]
    overflow: dict[str, int]


class RollupBusy(FailedPrecondition):
    """A backfill holds the rollup; scheduled runs wait for the next turn."""


def _fold_shards(
    shards: Iterable[Any],
) -> tuple[dict[str, dict[str, int]], dict[str, str], dict[str, int]]:
    """User shards read back by day: the named users' counts, their names (a later
    shard's name wins) and the generations of the users past each shard's cap."""
    users: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    overflow: dict[str, int] = {}
    for shard in shards:
        fields = shard.to_dict() or {}
        day = str(fields["day"])
        counts = fields.get("counts", {})
        users.setdefault(day, {}).update({uid: int(n) for uid, n in counts.items()})
        names.update(fields.get("names", {}))
        if fields.get("overflow"):
            overflow[day] = overflow.get(day, 0) + int(fields["overflow"])
    return users, names, overflow


def user_shard(uid: str) -> int:
    return zlib.crc32(uid.encode()) % USER_SHARDS


def _writes(folded: FoldedBatch) -> int:
    shards = sum(len({user_shard(uid) for uid in users}) for users in folded.users.values())
    return len(folded.days) + shards


def _largest_writable_prefix(
    events: list[Any], fold: Callable[[list[Any]], FoldedBatch]
) -> tuple[list[Any], FoldedBatch]:
    """The longest run of events whose rollup writes fit in one transaction.

    Events of a few days fit by the hundred; end events of generations created
    on many different days touch a document each, so such a batch is cut short.
    """
    folded = fold(events)
    if _writes(folded) <= MAX_ROLLUP_WRITES:
        return events, folded
    fits, too_many = 1, len(events)
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        if _writes(fold(events[:middle])) <= MAX_ROLLUP_WRITES:
            fits = middle
        else:
            too_many = middle
    return events[:fits], fold(events[:fits])


def _increments(counters: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _increments(value) if isinstance(value, Mapping) else firestore.Increment(value)
        for key, value in counters.items()
    }


class RollupStore:
    def __init__(self, client: firestore.Client) -> None:
        self._client = client

    def _meta_ref(self, spec: RollupSpec) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(
            collections.ANALYTICS_META
        ).document(spec.name)
        return ref

    def meta(self, spec: RollupSpec) -> dict[str, Any]:
        snapshot = self._meta_ref(spec).get()
        return (snapshot.to_dict() or {}) if snapshot.exists else {}

    def fold_next_batch(
        self,
        spec: RollupSpec,
        fold: Callable[[list[tuple[str, dict[str, Any]]]], FoldedBatch],
        *,
        until: datetime,
        limit: int,
        now: datetime,
    ) -> BatchOutcome:
        """Fold the next events up to ``until`` into the rollups, in one transaction."""
        meta_ref = self._meta_ref(spec)

        def fold_batch(transaction: firestore.Transaction) -> BatchOutcome:
            meta_snapshot = meta_ref.get(transaction=transaction)
            meta = (meta_snapshot.to_dict() or {}) if meta_snapshot.exists else {}
            lease = meta.get("leaseUntil")
            if lease is not None and lease > now:
                raise RollupBusy(f"the {spec.name} rollup is held by a backfill until {lease}")
            query = (
                self._client.collection_group(spec.event_group)
                .where(filter=FieldFilter(spec.time_field, "<=", until))
                .order_by(spec.time_field)
                .order_by("__name__")
            )
            if meta.get("cursorPath"):
                query = query.start_after(
                    {
                        spec.time_field: meta["cursorAt"],
                        "__name__": self._client.document(meta["cursorPath"]),
                    }
                )
            elif meta.get("cursorAt") is not None:
                # A first backfill counted everything up to here from raw documents.
                query = query.where(filter=FieldFilter(spec.time_field, ">", meta["cursorAt"]))
            fetched = list(query.limit(limit).stream(transaction=transaction))
            events, folded = _largest_writable_prefix(
                fetched,
                lambda batch: fold(
                    [(event.reference.path, event.to_dict() or {}) for event in batch]
                ),
            )
            admitted, overflow = self._admit_users(transaction, spec, folded)
            self._write_folded(transaction, spec, admitted, overflow)
            caught_up = len(fetched) < limit and len(events) == len(fetched)
            changes: dict[str, Any] = {
                "eventsFolded": firestore.Increment(len(events)),
                "lastRunAt": now,
            }
            if events:
                last = events[-1]
                changes["cursorAt"] = (last.to_dict() or {})[spec.time_field]
                changes["cursorPath"] = last.reference.path
            if caught_up:
                # Every event committed up to ``until`` is now counted; while a
                # run is still paging, the previous asOf stays true. A run with a
                # longer lag never moves it back.
                earlier = meta.get("asOf")
                changes["asOf"] = until if earlier is None else max(until, earlier)
            transaction.set(meta_ref, changes, merge=True)
            return BatchOutcome(events=len(events), caught_up=caught_up)

        # Two runs at once (the schedule and an operator's) take turns on the cursor.
        return run_transaction(
            self._client, fold_batch, contended=f"the {spec.name} rollup is busy: run it again"
        )

    def _shard_ref(self, spec: RollupSpec, day: str, shard: int) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(spec.users_collection).document(
            f"{day}_{shard:02d}"
        )
        return ref

    def _admit_users(
        self, transaction: firestore.Transaction, spec: RollupSpec, folded: FoldedBatch
    ) -> tuple[FoldedBatch, dict[tuple[str, int], int]]:
        """The batch's users that their shard still has room for (or already names),
        and the generations of the others, by day and shard. Reads each shard the
        batch touches, in the transaction, before any write."""
        users: dict[str, dict[str, int]] = {}
        overflow: dict[tuple[str, int], int] = {}
        for day, day_users in folded.users.items():
            by_shard: dict[int, dict[str, int]] = {}
            for uid, count in day_users.items():
                by_shard.setdefault(user_shard(uid), {})[uid] = count
            for shard, counts in by_shard.items():
                snapshot = self._shard_ref(spec, day, shard).get(transaction=transaction)
                named = set(
                    ((snapshot.to_dict() or {}) if snapshot.exists else {}).get("counts", {})
                )
                for uid in sorted(counts):
                    if uid in named or len(named) < MAX_USERS_PER_SHARD:
                        named.add(uid)
                        users.setdefault(day, {})[uid] = counts[uid]
                    else:
                        overflow[(day, shard)] = overflow.get((day, shard), 0) + counts[uid]
        return FoldedBatch(days=folded.days, users=users, names=folded.names), overflow

    def _write_folded(
        self,
        transaction: firestore.Transaction,
        spec: RollupSpec,
        folded: FoldedBatch,
        overflow: Mapping[tuple[str, int], int],
    ) -> None:
        for day, counters in folded.days.items():
            ref = self._client.collection(spec.days_collection).document(day)
            transaction.set(ref, {"day": day, **_increments(counters)}, merge=True)
        for day, users in folded.users.items():
            shards: dict[int, dict[str, int]] = {}
            for uid, count in users.items():
                shards.setdefault(user_shard(uid), {})[uid] = count
            for shard, counts in shards.items():
                names = {uid: folded.names[uid] for uid in counts if uid in folded.names}
                fields: dict[str, Any] = {"day": day, "shard": shard, "counts": _increments(counts)}
                if names:
                    fields["names"] = names
                extra = overflow.get((day, shard), 0)
                if extra:
                    fields["overflow"] = firestore.Increment(extra)
                transaction.set(self._shard_ref(spec, day, shard), fields, merge=True)
        for (day, shard), extra in overflow.items():
            if shard not in {user_shard(uid) for uid in folded.users.get(day, {})}:
                fields = {"day": day, "shard": shard, "overflow": firestore.Increment(extra)}
                transaction.set(self._shard_ref(spec, day, shard), fields, merge=True)

    def window_inputs(
        self, spec: RollupSpec, first_day: str
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]], dict[str, str]]:
        """Day documents, per-day user counts and user names from ``first_day`` on."""
        day_docs = {
            snapshot.id: snapshot.to_dict() or {}
            for snapshot in self._client.collection(spec.days_collection)
            .where(filter=FieldFilter("day", ">=", first_day))
            .stream()
        }
        shards = (
            self._client.collection(spec.users_collection)
            .where(filter=FieldFilter("day", ">=", first_day))
            .order_by("day")  # later days win: the newest name
            .stream()
        )
        users_by_day, names, _ = _fold_shards(shards)
        return day_docs, users_by_day, names

    def stored(self, spec: RollupSpec, first_day: str, last_day: str) -> StoredRollup:
        """The cursor, day documents and user shards of these days, all read in one
        read-only transaction: one consistent instant, whatever runs meanwhile."""

        @firestore.transactional
        def read(transaction: firestore.Transaction) -> StoredRollup:
            snapshot = self._meta_ref(spec).get(transaction=transaction)
            meta = (snapshot.to_dict() or {}) if snapshot.exists else {}
            days = {
                day.id: day.to_dict() or {}
                for day in self._days_between(spec.days_collection, first_day, last_day).stream(
                    transaction=transaction
                )
            }
            shards = self._days_between(spec.users_collection, first_day, last_day)
            users, _, overflow = _fold_shards(shards.stream(transaction=transaction))
            return StoredRollup(meta=meta, days=days, users=users, overflow=overflow)

        stored: StoredRollup = read(self._client.transaction(read_only=True))
        return stored

    def _days_between(self, collection: str, first_day: str, last_day: str) -> Any:
        return (
            self._client.collection(collection)
            .where(filter=FieldFilter("day", ">=", first_day))
            .where(filter=FieldFilter("day", "<=", last_day))
        )

    def write_windows(
        self, spec: RollupSpec, answers: Mapping[int, dict[str, Any]], as_of: datetime | None
    ) -> None:
        """Write the window answers in one transaction that first reads the deletion
        markers of the users they name, and names erased users neutrally.

        An account deletion renames the windows as its last step, after it has
        created its marker: so either this transaction commits first and the
        deletion renames what it wrote, or it sees the marker (its read waits
        for the marker's write) and writes the neutral name itself. A refresh
        that read the user shards before the deletion renamed them cannot put
        an erased name back.
        """
        named = sorted(
            {
                str(entry["userId"])
                for answer in answers.values()
                for entry in answer.get("topUsers", [])
            }
        )
        deletions = self._client.collection(collections.ACCOUNT_DELETIONS)

        def write(transaction: firestore.Transaction) -> None:
            erased: set[str] = set()
            if named:  # a read of no documents is an error to Firestore
                markers = self._client.get_all(
                    [deletions.document(uid) for uid in named], transaction=transaction
                )
                erased = {marker.id for marker in markers if marker.exists}
            for days, answer in answers.items():
                ref = self._client.collection(spec.windows_collection).document(str(days))
                transaction.set(ref, {**erasure.without_names(answer, erased), "asOf": as_of})

        run_transaction(
            self._client, write, contended=f"the {spec.name} windows are busy: run it again"
        )

    def mark_windows(self, spec: RollupSpec, day: str, events_folded: int) -> None:
        self._meta_ref(spec).set(
            {"windowsDay": day, "windowsEventsFolded": events_folded}, merge=True
        )

    def window(self, spec: RollupSpec, days: int) -> dict[str, Any] | None:
        """The precomputed answer for a window: one document read."""
        snapshot = self._client.collection(spec.windows_collection).document(str(days)).get()
        return (snapshot.to_dict() or {}) if snapshot.exists else None

    # Backfill: rebuild days from raw documents under a lease.

    def take_lease(self, spec: RollupSpec, now: datetime, until: datetime) -> datetime | None:
        """Hold the rollup for a backfill; returns its asOf, the time the rebuild counts to."""
        meta_ref = self._meta_ref(spec)

        @firestore.transactional
        def take(transaction: firestore.Transaction) -> datetime | None:
            snapshot = meta_ref.get(transaction=transaction)
            meta = (snapshot.to_dict() or {}) if snapshot.exists else {}
            lease = meta.get("leaseUntil")
            if lease is not None and lease > now:
                raise RollupBusy(f"another backfill holds the {spec.name} rollup until {lease}")
            transaction.set(meta_ref, {"leaseUntil": until}, merge=True)
            as_of: datetime | None = meta.get("asOf")
            return as_of

        taken: datetime | None = take(self._client.transaction())
        return taken

    def start_cursor_at(self, spec: RollupSpec, as_of: datetime) -> None:
        """Treat every event up to ``as_of`` as counted (a first backfill counts them)."""
        self._meta_ref(spec).set({"cursorAt": as_of, "cursorPath": None, "asOf": as_of}, merge=True)

    def release_lease(self, spec: RollupSpec) -> None:
        self._meta_ref(spec).set({"leaseUntil": None}, merge=True)

    def replace_days(self, spec: RollupSpec, days: Iterable[str], folded: FoldedBatch) -> None:
        """Overwrite these days' counters and user shards with a recount."""
        for day in days:
            batch = self._client.batch()
            batch.set(
                self._client.collection(spec.days_collection).document(day),
                {"day": day, **folded.days.get(day, {})},
            )
            users = folded.users.get(day, {})
            for shard in range(USER_SHARDS):
                every = {uid: n for uid, n in users.items() if user_shard(uid) == shard}
                # A rebuild names the shard's most active users, the rest overflow.
                ranked = sorted(every, key=lambda uid: (-every[uid], uid))
                counts = {uid: every[uid] for uid in ranked[:MAX_USERS_PER_SHARD]}
                extra = sum(every[uid] for uid in ranked[MAX_USERS_PER_SHARD:])
                ref = self._shard_ref(spec, day, shard)
                if counts:
                    names = {uid: folded.names[uid] for uid in counts if uid in folded.names}
                    fields = {"day": day, "shard": shard, "counts": counts, "names": names}
                    batch.set(ref, {**fields, "overflow": extra} if extra else fields)
                else:
                    batch.delete(ref)
            batch.commit()

    def day_documents(self, spec: RollupSpec, first_day: str, last_day: str) -> dict[str, Any]:
        days = self._days_between(spec.days_collection, first_day, last_day).stream()
        return {snapshot.id: snapshot.to_dict() or {} for snapshot in days}

    def raw_generations(self, first_day: date, last_day: date) -> list[GenerationSnapshot]:
        """Public generation documents created on these UTC days, and what is kept of
        the generations erased with their owner's account (counted, never named)."""
        start, end = utc_day_bounds(first_day, last_day)
        snapshots = []
        for collection in (collections.LIVE_GENERATIONS, collections.ERASED_GENERATIONS):
            found = (
                self._client.collection(collection)
                .where(filter=FieldFilter("createdAt", ">=", start))
                .where(filter=FieldFilter("createdAt", "<", end))
                .stream()
            )
            for document in found:
                fields = document.to_dict() or {}
                snapshots.append(
                    GenerationSnapshot(
                        created_at=fields["createdAt"],
                        completed_at=fields.get("completedAt"),
                        status=fields["status"],
                        type=fields["type"],
                        engine=fields["engine"],
                        user_id=fields["userId"],
                        user_name=fields.get("userName", ANONYMOUS_DISPLAY_NAME),
                        duration_ms=fields.get("durationMs"),
                    )
                )
        return snapshots

    def raw_ledger(self, first_day: date, last_day: date) -> list[tuple[str, dict[str, Any]]]:
        """Every ledger entry created on these UTC days, with its path."""
        start, end = utc_day_bounds(first_day, last_day)
        entries = (
            self._client.collection_group(collections.LEDGER)
            .where(filter=FieldFilter("createdAt", ">=", start))
            .where(filter=FieldFilter("createdAt", "<", end))
            .stream()
        )
        return [(entry.reference.path, entry.to_dict() or {}) for entry in entries]
