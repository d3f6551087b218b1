"""Firestore side of account deletion: the marker that records a deletion's
progress, and each step's bounded batch.

Every batch writes the marker (its step, cursor and counters) in the same
atomic write as its own changes, so a run that dies keeps what it did, counts
nothing twice, and the next run goes on from the marker. The marker is only
created by a batch that changes something: deleting a uid with no data writes
nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from generations_live.adapters import collections
from generations_live.adapters.claims import ClaimPolicy, RequestClaims
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import user_shard
from generations_live.domain import erasure
from generations_live.domain.analytics import END, START
from generations_live.domain.erasure import Progress, Step
from generations_live.domain.identity import ANONYMOUS_DISPLAY_NAME
from generations_live.domain.lifecycle import Status

# Firestore's ``in`` filter takes at most 30 values.
MAX_IN_VALUES = 30
RUNNING = "running"
DONE = "done"


@dataclass(frozen=True)
class StepResult:
    """What one batch of a step did: its counters, where a scan stopped, and
    whether the step has nothing left."""

    counts: Mapping[str, int]
    cursor: str | None = None
    finished: bool = False


class AccountDeletionStore:
    """The queries and batched writes of account deletion."""

    def __init__(self, client: firestore.Client, generations: GenerationStore | None = None):
        self._client = client
        self.generations = generations or GenerationStore(client)
        self._claims = RequestClaims(client, ClaimPolicy())

    # The marker.

    def _marker_ref(self, uid: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(
            collections.ACCOUNT_DELETIONS
        ).document(uid)
        return ref

    def progress(self, uid: str) -> Progress | None:
        """The recorded progress of the uid's deletion, or None if nothing was ever done."""
        snapshot = self._marker_ref(uid).get()
        if not snapshot.exists:
            return None
        fields = snapshot.to_dict() or {}
        progress = Progress(
            step=Step(fields.get("step") or Step.GENERATIONS.value),
            cursor=fields.get("cursor"),
            done=fields.get("state") == DONE,
        )
        progress.add({name: int(n) for name, n in (fields.get("counts") or {}).items()})
        return progress

    @contextlib.contextmanager
    def turn(self, uid: str) -> Iterator[None]:
        """Deletions of one uid take turns (a client retrying while a call still runs)."""
        with self._claims.held(f"delete-account/{uid}"):
            yield

    def _marker_fields(
        self, uid: str, step: Step | None, cursor: str | None, counts: Mapping[str, int]
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "userId": uid,
            "state": RUNNING,
            "step": step.value if step is not None else None,
            "cursor": cursor,
            "updatedAt": firestore.SERVER_TIMESTAMP,
        }
        added = {name: firestore.Increment(n) for name, n in counts.items() if n}
        if added:
            # Merged key by key: an empty map would replace the counters.
            fields["counts"] = added
        return fields

    def advance(self, uid: str, step: Step) -> None:
        """Record that the deletion goes on with ``step``, from its start."""
        self._marker_ref(uid).set(self._marker_fields(uid, step, None, {}), merge=True)

    def save_cursor(self, uid: str, step: Step, cursor: str) -> None:
        """Record where a scanning step stopped, after a page that changed nothing."""
        self._marker_ref(uid).set(self._marker_fields(uid, step, cursor, {}), merge=True)

    def finish(self, uid: str) -> None:
        self._marker_ref(uid).set(
            {
                "state": DONE,
                "step": None,
                "cursor": None,
                "completedAt": firestore.SERVER_TIMESTAMP,
                "updatedAt": firestore.SERVER_TIMESTAMP,
            },
            merge=True,
        )

    def _commit(
        self,
        batch: Any,
        uid: str,
        step: Step,
        cursor: str | None,
        counts: Mapping[str, int],
    ) -> None:
        """Commit a step's changes with the marker; a batch with no changes writes nothing."""
        if not any(counts.values()):
            return
        batch.set(self._marker_ref(uid), self._marker_fields(uid, step, cursor, counts), merge=True)
        batch.commit()

    # Probing for data written after a deletion finished.

    def has_user_data(self, uid: str) -> bool:
        """Whether the user has generations, per-user documents or reports (one read each)."""
        queries = [
            self._generations_query(uid),
            self._history(uid),
            self._reports_by(uid),
            *self._user_document_queries(uid),
        ]
        return any(list(query.limit(1).select([]).stream()) for query in queries)

    # Step: generations.

    def _generations_query(self, uid: str) -> Any:
        return self._client.collection(collections.LIVE_GENERATIONS).where(
            filter=FieldFilter("userId", "==", uid)
        )

    def _history(self, uid: str) -> Any:
        return (
            self._client.collection(collections.USERS)
            .document(uid)
            .collection(collections.USER_GENERATIONS)
        )

    def generations_of(self, uid: str, limit: int) -> list[tuple[str, str | None]]:
        """``(id, status)`` of up to ``limit`` of the user's generations: from the feed,
        then history documents left without a public half."""
        for query in (self._generations_query(uid), self._history(uid)):
            found = [
                (snapshot.id, (snapshot.to_dict() or {}).get("status"))
                for snapshot in query.select(["status"]).limit(limit).stream()
            ]
            if found:
                return found
        return []

    def erase_generations(
        self, uid: str, generation_ids: Sequence[str], max_reports: int
    ) -> StepResult:
        """Erase these generations of the user in one transaction.

        For each: what the analytics recount reads is kept in ``erased_generations``,
        both halves are deleted, its events lose the display name, and its queue
        entry and the reports about it are deleted. One still processing is left
        for the caller to cancel first. When ``max_reports`` or more reports name
        these generations, this transaction deletes only reports.
        """
        store = self.generations
        ids = list(generation_ids)[:MAX_IN_VALUES]

        @firestore.transactional
        def erase(transaction: firestore.Transaction) -> dict[str, int]:
            publics = self._read_all(transaction, [store.public_ref(gid) for gid in ids])
            # A history document whose public half names someone else (it never
            # should) goes alone: nothing of the other user's is touched.
            foreign = {
                gid
                for gid in ids
                if publics.get(store.public_ref(gid).path, {}).get("userId", uid) != uid
            }
            mine = [gid for gid in ids if gid not in foreign]
            events = self._read_all(
                transaction,
                [store.event_ref(gid, kind) for gid in mine for kind in (START, END)],
            )
            queued = self._read_all(transaction, [store.queue_ref(gid) for gid in mine])
            reports = (
                list(
                    self._client.collection(collections.GENERATION_REPORTS)
                    .where(filter=FieldFilter("generationId", "in", mine))
                    .limit(max_reports)
                    .select([])
                    .stream(transaction=transaction)
                )
                if mine
                else []
            )
            for report in reports:
                transaction.delete(report.reference)
            if len(reports) >= max_reports:
                # Reports first; the generations go in a later transaction.
                counts = {"reports": len(reports)}
                transaction.set(
                    self._marker_ref(uid),
                    self._marker_fields(uid, Step.GENERATIONS, None, counts),
                    merge=True,
                )
                return counts
            erased = events_anonymised = queue_entries = 0
            for gid in ids:
                public = publics.get(store.public_ref(gid).path)
                if gid in foreign:
                    transaction.delete(store.private_ref(uid, gid))
                    erased += 1
                    continue
                if public is not None and public.get("status") == Status.PROCESSING.value:
                    continue  # cancel it first: its hold must be released
                if public is not None:
                    transaction.set(
                        self._client.collection(collections.ERASED_GENERATIONS).document(gid),
                        erasure.erased_generation(public),
                    )
                    transaction.delete(store.public_ref(gid))
                transaction.delete(store.private_ref(uid, gid))
                for kind in (START, END):
                    event_ref = store.event_ref(gid, kind)
                    event = events.get(event_ref.path)
                    if event is not None and erasure.anonymised_name(event.get("userName")):
                        transaction.update(event_ref, {"userName": ANONYMOUS_DISPLAY_NAME})
                        events_anonymised += 1
                if queued.get(store.queue_ref(gid).path) is not None:
                    transaction.delete(store.queue_ref(gid))
                    queue_entries += 1
                erased += 1
            counts = {
                "generations": erased,
                "events": events_anonymised,
                "reports": len(reports),
                "queueEntries": queue_entries,
            }
            if any(counts.values()):
                transaction.set(
                    self._marker_ref(uid),
                    self._marker_fields(uid, Step.GENERATIONS, None, counts),
                    merge=True,
                )
            return counts

        counts: dict[str, int] = erase(self._client.transaction(max_attempts=10))
        return StepResult(counts)

    def _read_all(
        self, transaction: firestore.Transaction, refs: Sequence[firestore.DocumentReference]
    ) -> dict[str, dict[str, Any]]:
        """The documents of ``refs`` that exist, by path, read in the transaction."""
        if not refs:
            return {}  # Firestore refuses a batched read of nothing
        return {
            snapshot.reference.path: snapshot.to_dict() or {}
            for snapshot in self._client.get_all(list(refs), transaction=transaction)
            if snapshot.exists
        }

    def add_counts(self, uid: str, step: Step, counts: Mapping[str, int]) -> None:
        """Record counters of work done outside the marker's batches (canceled generations)."""
        self._commit(self._client.batch(), uid, step, None, counts)

    # Steps that delete whole documents: per-user documents, reports filed.

    def _user_document_queries(self, uid: str) -> list[Any]:
        user = self._client.collection(collections.USERS).document(uid)
        return [
            *(user.collection(name) for name in collections.USER_SUBCOLLECTIONS_ERASED),
            *(
                self._client.collection(name).where(filter=FieldFilter("userId", "==", uid))
                for name in collections.USER_KEYED_COLLECTIONS_ERASED
            ),
        ]

    def _reports_by(self, uid: str) -> Any:
        return self._client.collection(collections.GENERATION_REPORTS).where(
            filter=FieldFilter("reporterId", "==", uid)
        )

    def delete_user_documents(self, uid: str, limit: int) -> StepResult:
        """Delete up to ``limit`` of the user's per-user documents, then ``users/{uid}``."""
        refs: list[firestore.DocumentReference] = []
        for query in self._user_document_queries(uid):
            refs += [s.reference for s in query.select([]).limit(limit - len(refs)).stream()]
            if len(refs) >= limit:
                break
        if not refs:
            user = self._client.collection(collections.USERS).document(uid)
            if user.get(field_paths=[]).exists:
                refs = [user]
        return self._delete(uid, Step.USER_DOCUMENTS, refs, "userDocuments")

    def delete_reports_by(self, uid: str, limit: int) -> StepResult:
        """Delete up to ``limit`` reports the user filed, in one transaction. The queue
        keeps its counts; an entry whose last reason is the user's loses that text."""
        store = self.generations

        @firestore.transactional
        def delete(transaction: firestore.Transaction) -> dict[str, int]:
            reports = list(
                self._reports_by(uid)
                .select(["generationId", "reason"])
                .limit(limit)
                .stream(transaction=transaction)
            )
            filed = [(r.reference, r.to_dict() or {}) for r in reports]
            queue_refs = [store.queue_ref(str(fields.get("generationId"))) for _, fields in filed]
            queued = self._read_all(transaction, queue_refs)
            scrubbed = set()
            for (ref, fields), queue_ref in zip(filed, queue_refs, strict=True):
                transaction.delete(ref)
                entry = queued.get(queue_ref.path)
                if entry is None or queue_ref.path in scrubbed:
                    continue
                if fields.get("reason") is not None and entry.get("lastReason") == fields.get(
                    "reason"
                ):
                    transaction.update(queue_ref, {"lastReason": erasure.ERASED_REASON})
                    scrubbed.add(queue_ref.path)
            counts = {"reports": len(filed)}
            if filed:
                transaction.set(
                    self._marker_ref(uid),
                    self._marker_fields(uid, Step.REPORTS, None, counts),
                    merge=True,
                )
            return counts

        counts: dict[str, int] = delete(self._client.transaction(max_attempts=10))
        return StepResult(counts, finished=not counts["reports"])

    def _delete(
        self, uid: str, step: Step, refs: Sequence[firestore.DocumentReference], counter: str
    ) -> StepResult:
        batch = self._client.batch()
        for ref in refs:
            batch.delete(ref)
        self._commit(batch, uid, step, None, {counter: len(refs)})
        return StepResult({counter: len(refs)}, finished=not refs)

    # Steps that scan the user's documents and rewrite a field, after a cursor.

    def _page(self, query: Any, after: str | None, limit: int) -> list[Any]:
        ordered = query.order_by("__name__")
        if after is not None:
            ordered = ordered.start_after({"__name__": self._client.document(after)})
        return list(ordered.limit(limit).stream())

    def _rewrite(
        self,
        uid: str,
        step: Step,
        page: Sequence[Any],
        changes: Mapping[str, dict[str, Any]],
        *,
        counter: str,
        limit: int,
    ) -> StepResult:
        batch = self._client.batch()
        for snapshot in page:
            change = changes.get(snapshot.reference.path)
            if change is not None:
                batch.update(snapshot.reference, change)
        cursor = page[-1].reference.path if page else None
        self._commit(batch, uid, step, cursor, {counter: len(changes)})
        return StepResult({counter: len(changes)}, cursor=cursor, finished=len(page) < limit)

    def scrub_ledger(self, uid: str, after: str | None, limit: int) -> StepResult:
        """Replace the free-text reasons of the user's ledger entries, a page at a time."""
        kinds = [kind.value for kind in erasure.FREE_TEXT_REASON_KINDS]
        query = (
            self.generations.billing_ref(uid)
            .collection(collections.LEDGER)
            .where(filter=FieldFilter("kind", "in", kinds))
            .select(["kind", "reason"])
        )
        page = self._page(query, after, limit)
        changes = {}
        for snapshot in page:
            fields = snapshot.to_dict() or {}
            reason = erasure.scrubbed_reason(fields.get("kind"), fields.get("reason"))
            if reason is not None:
                changes[snapshot.reference.path] = {"reason": reason}
        return self._rewrite(uid, Step.LEDGER, page, changes, counter="ledgerEntries", limit=limit)

    def anonymise_events(self, uid: str, after: str | None, limit: int) -> StepResult:
        """Replace the display name in the user's generation events, a page at a time
        (events of generations already gone by retention included)."""
        query = (
            self._client.collection(collections.GENERATION_EVENTS)
            .where(filter=FieldFilter("userId", "==", uid))
            .select(["userName"])
        )
        page = self._page(query, after, limit)
        changes = {
            snapshot.reference.path: {"userName": ANONYMOUS_DISPLAY_NAME}
            for snapshot in page
            if erasure.anonymised_name((snapshot.to_dict() or {}).get("userName"))
        }
        return self._rewrite(uid, Step.EVENTS, page, changes, counter="events", limit=limit)

    def anonymise_rollup_users(self, uid: str, after: str | None, limit: int) -> StepResult:
        """Replace the user's name in the generation rollup's user shards of every day.

        A user lives in one shard number every day (by a hash of the uid), so only
        that shard of each day is read, and only the user's own name in it.
        """
        name_field = FieldPath("names", uid).to_api_repr()
        query = (
            self._client.collection(collections.ANALYTICS_DAY_USERS)
            .where(filter=FieldFilter("shard", "==", user_shard(uid)))
            .select([name_field])
        )
        page = self._page(query, after, limit)
        changes = {}
        for snapshot in page:
            names = (snapshot.to_dict() or {}).get("names") or {}
            if uid in names and erasure.anonymised_name(names[uid]):
                changes[snapshot.reference.path] = {name_field: ANONYMOUS_DISPLAY_NAME}
        return self._rewrite(
            uid, Step.ROLLUP_USERS, page, changes, counter="rollupUsers", limit=limit
        )

    def anonymise_windows(self, uid: str) -> StepResult:
        """Replace the user's name in the precomputed windows' top users (90 documents
        at most), in one transaction.

        A refresh that read the user shards before they were renamed cannot
        write the name back afterwards: ``RollupStore.write_windows`` reads this
        user's marker, created before this step, in the transaction that writes.
        """
        windows = self._client.collection(collections.ANALYTICS_WINDOWS)

        @firestore.transactional
        def anonymise(transaction: firestore.Transaction) -> int:
            changed = 0
            updates = []
            for snapshot in windows.stream(transaction=transaction):
                top = erasure.anonymised_top_users(
                    (snapshot.to_dict() or {}).get("topUsers") or [], uid
                )
                if top is not None:
                    updates.append((snapshot.reference, top))
            for ref, top in updates:
                transaction.update(ref, {"topUsers": top})
                changed += 1
            if changed:
                transaction.set(
                    self._marker_ref(uid),
                    self._marker_fields(uid, Step.WINDOWS, None, {"windows": changed}),
                    merge=True,
                )
            return changed

        changed: int = anonymise(self._client.transaction(max_attempts=10))
        return StepResult({"windows": changed}, finished=True)
