"""Every Firestore path, query and transaction of the project, in one place.

Use cases run their reads and writes inside ``GenerationStore.run``: one
Firestore transaction, retried on contention, in which every read comes
before every write. Raising a domain error inside it writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from google.api_core import exceptions as google_exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from generations_live.adapters.claims import ClaimPolicy, RequestClaims
from generations_live.adapters.collections import (
    BILLING,
    GENERATION_EVENTS,
    GENERATION_OUTPUTS,
    GENERATION_REPORTS,
    LEDGER,
    LIVE_GENERATIONS,
    MODERATION_QUEUE,
    NOTIFICATIONS,
    PAYMENT_REVIEWS,
    PREVIEWS,
    SUBSCRIPTIONS_DOCUMENT,
    USAGE,
    USER_GENERATIONS,
    USERS,
    WEBHOOK_EVENTS,
    WEBHOOK_SUBSCRIPTIONS,
)
from generations_live.adapters.firestore import MAX_BATCH_WRITES, run_transaction
from generations_live.domain import notifications, webhooks
from generations_live.domain.analytics import END, START
from generations_live.domain.credits import Account, AuditedEntry, Change, EntryKind
from generations_live.domain.documents import RETENTION_FIELD, GenerationDocuments
from generations_live.domain.lifecycle import GenerationType, Status
from generations_live.domain.limits import StartBucket
from generations_live.domain.windows import utc_day_bounds

if TYPE_CHECKING:
    # Pillow loads with the first preview, not with the store.
    from generations_live.domain.previews import Preview

# Documents an export reads per query: one long stream may time out.
EXPORT_PAGE = 500

Result = TypeVar("Result")


@dataclass(frozen=True)
class LiveQuery:
    limit: int
    type: GenerationType | None = None
    engine: str | None = None
    status: Status | None = None


@dataclass(frozen=True)
class GenerationWithOutputs:
    public: dict[str, Any]
    private: dict[str, Any]
    outputs: list[dict[str, Any]]


def account_from_document(fields: dict[str, Any] | None) -> Account:
    if not fields:
        return Account()
    limits = fields.get("limits") or {}
    return Account(
        balance=int(fields.get("balance", 0)),
        held=int(fields.get("held", 0)),
        last_daily_free_day=fields.get("lastDailyFreeDay"),
        lifetime=dict(fields.get("lifetime", {})),
        processing=int(limits.get("processing", 0)),
        start_bucket=StartBucket(tokens=limits.get("startTokens"), at=limits.get("startTokensAt")),
        low_credits_alerted=bool((fields.get("alerts") or {}).get("lowCredits", False)),
    )


class StoreTransaction:
    """Typed reads and writes of one Firestore transaction."""

    def __init__(self, store: GenerationStore, transaction: firestore.Transaction) -> None:
        self._store = store
        self._transaction = transaction
        # Accounts as this transaction read them: what a change is measured from.
        self._accounts_read: dict[str, Account] = {}
        # The webhook events someone subscribes to, read with the first read.
        self._subscribed: frozenset[str] | None = None

    def _read(self, ref: firestore.DocumentReference) -> dict[str, Any] | None:
        if self._subscribed is None:
            # Before any write, as a transaction's reads must be: publish() needs it.
            self._subscribed = self._read_subscriptions()
        snapshot = ref.get(transaction=self._transaction)
        return (snapshot.to_dict() or {}) if snapshot.exists else None

    def _read_subscriptions(self) -> frozenset[str]:
        snapshot = self._store.subscriptions_ref().get(transaction=self._transaction)
        return (
            frozenset((snapshot.to_dict() or {}).get("events") or ())
            if snapshot.exists
            else frozenset()
        )

    # Reads: all of them before the first write.

    def public_generation(self, generation_id: str) -> dict[str, Any] | None:
        return self._read(self._store.public_ref(generation_id))

    def private_generation(self, uid: str, generation_id: str) -> dict[str, Any] | None:
        return self._read(self._store.private_ref(uid, generation_id))

    def account(self, uid: str) -> Account:
        account = account_from_document(self._read(self._store.billing_ref(uid)))
        self._accounts_read.setdefault(uid, account)
        return account

    def ledger_entry(self, uid: str, entry_id: str) -> dict[str, Any] | None:
        return self._read(self._store.ledger_ref(uid, entry_id))

    def usage_day(self, uid: str, day: date) -> dict[str, Any] | None:
        return self._read(self._store.usage_ref(uid, day))

    def queue_entry(self, generation_id: str) -> dict[str, Any] | None:
        return self._read(self._store.queue_ref(generation_id))

    def report(self, generation_id: str, reporter_uid: str) -> dict[str, Any] | None:
        return self._read(self._store.report_ref(generation_id, reporter_uid))

    def has_preview(self, generation_id: str) -> bool:
        snapshot = self._store.preview_ref(generation_id).get(
            field_paths=["userId"], transaction=self._transaction
        )
        return bool(snapshot.exists)

    # Writes.

    def create_generation(self, uid: str, generation_id: str, docs: GenerationDocuments) -> None:
        """Both halves, and the start event the analytics rollup folds."""
        stamps = {"createdAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP}
        self._transaction.create(self._store.public_ref(generation_id), {**docs.public, **stamps})
        self._transaction.create(
            self._store.private_ref(uid, generation_id), {**docs.private, **stamps}
        )
        self._create_event(generation_id, START, docs.public, createdAt=None)
        self.publish(
            webhooks.EventType.GENERATION_STARTED,
            webhooks.generation_data(generation_id, {**docs.public, **stamps}),
            uid=uid,
        )

    def finish_generation(
        self,
        uid: str,
        generation_id: str,
        docs: GenerationDocuments,
        stored_public: dict[str, Any],
        outputs: list[dict[str, Any]] | None = None,
    ) -> None:
        """Both halves, the end event the analytics rollup folds, the webhook event
        and the owner's notification."""
        stamps = {
            "updatedAt": firestore.SERVER_TIMESTAMP,
            "completedAt": firestore.SERVER_TIMESTAMP,
        }
        self._transaction.update(self._store.public_ref(generation_id), {**docs.public, **stamps})
        self._transaction.update(
            self._store.private_ref(uid, generation_id), {**docs.private, **stamps}
        )
        self._create_event(
            generation_id,
            END,
            stored_public,
            createdAt=stored_public.get("createdAt"),
            status=docs.public["status"],
            durationMs=docs.public.get("durationMs"),
        )
        status = Status(docs.public["status"])
        ended = {**stored_public, **docs.public, **stamps}
        self.publish(
            webhooks.ended_event(status),
            webhooks.generation_data(generation_id, ended, outputs),
            uid=uid,
        )
        notice = notifications.for_generation_end(generation_id, ended, status)
        if notice is not None:
            self.notify(uid, notice)

    def publish(self, event_type: webhooks.EventType, data: dict[str, Any], *, uid: str) -> None:
        """Put an event in the webhook outbox, in this transaction: it exists exactly
        when the change it reports does (``dispatchWebhookEvent`` delivers it).
        Nothing is written when no enabled endpoint subscribes to its type."""
        if self._subscribed is not None and event_type.value not in self._subscribed:
            return
        self._transaction.create(
            self._store.new_outbox_ref(),
            {
                "type": event_type.value,
                "data": data,
                "userId": uid,
                "fannedOut": False,
                "createdAt": firestore.SERVER_TIMESTAMP,
                RETENTION_FIELD: datetime.now(UTC) + self._store.notices.events_kept_for,
            },
        )

    def notify(self, uid: str, notice: notifications.Notice) -> None:
        """Write a notification for ``uid``, in this transaction."""
        self._transaction.create(
            self._store.new_notification_ref(uid),
            {
                **notice.document(),
                "createdAt": firestore.SERVER_TIMESTAMP,
                RETENTION_FIELD: datetime.now(UTC) + self._store.notices.notifications_kept_for,
            },
        )

    def update_generation(self, uid: str, generation_id: str, docs: GenerationDocuments) -> None:
        """Change both halves (moderation of a generation that has already ended)."""
        stamp = {"updatedAt": firestore.SERVER_TIMESTAMP}
        self._transaction.update(self._store.public_ref(generation_id), {**docs.public, **stamp})
        self._transaction.update(
            self._store.private_ref(uid, generation_id), {**docs.private, **stamp}
        )

    def save_outputs(
        self,
        uid: str,
        generation_id: str,
        *,
        outputs: list[dict[str, Any]],
        preview: Preview | None,
        visibility: str,
        expire_at: Any,
    ) -> None:
        """The generation's output references, and its preview image in a document
        of its own, so feed and history documents stay small."""
        owned = {
            "userId": uid,
            "visibility": visibility,
            "createdAt": firestore.SERVER_TIMESTAMP,
            RETENTION_FIELD: expire_at,
        }
        self._transaction.create(
            self._store.outputs_ref(generation_id), {**owned, "outputs": outputs}
        )
        if preview is not None:
            self._transaction.create(
                self._store.preview_ref(generation_id),
                {
                    **owned,
                    "hidden": False,
                    "contentType": preview.content_type,
                    "image": preview.webp,
                    "bytes": len(preview.webp),
                    "width": preview.width,
                    "height": preview.height,
                    "blurhash": preview.blurhash,
                },
            )

    def hide_preview(self, generation_id: str, hidden: bool) -> None:
        """Moderation: a hidden generation's preview is its owner's and the admins' only."""
        self._transaction.update(self._store.preview_ref(generation_id), {"hidden": hidden})

    def create_report(self, generation_id: str, reporter_uid: str, reason: str) -> None:
        self._transaction.create(
            self._store.report_ref(generation_id, reporter_uid),
            {
                "generationId": generation_id,
                "reporterId": reporter_uid,
                "reason": reason,
                "createdAt": firestore.SERVER_TIMESTAMP,
            },
        )

    def save_queue_entry(
        self, generation_id: str, fields: dict[str, Any], *, reported: bool = False
    ) -> None:
        """Merge ``fields`` into the generation's queue entry; ``reported`` stamps the
        report's time (the commit's)."""
        stamps = {"updatedAt": firestore.SERVER_TIMESTAMP}
        if reported:
            stamps["lastReportedAt"] = firestore.SERVER_TIMESTAMP
        self._transaction.set(
            self._store.queue_ref(generation_id),
            {**fields, "generationId": generation_id, **stamps},
            merge=True,
        )

    def _create_event(
        self, generation_id: str, kind: str, public: dict[str, Any], **extra: Any
    ) -> None:
        # Created (never overwritten) in the change's own transaction, stamped
        # with the same commit time as the documents: one event per change.
        self._transaction.create(
            self._store.event_ref(generation_id, kind),
            {
                "generationId": generation_id,
                "kind": kind,
                "at": firestore.SERVER_TIMESTAMP,
                "type": public["type"],
                "engine": public["engine"],
                "userId": public["userId"],
                "userName": public["userName"],
                "expireAt": public.get(RETENTION_FIELD),
                **extra,
            },
        )

    def save_account(self, uid: str, change: Change) -> None:
        """Write the account and create its new ledger entries (a replay would fail),
        with the notifications and webhook events the change calls for."""
        before = self._accounts_read.get(uid, Account())
        told = notifications.for_account_change(
            before, change, self._store.notices.low_credits_threshold
        )
        for notice in told.notices:
            self.notify(uid, notice)
            if notice.type is notifications.NoticeType.CREDITS_PURCHASED:
                self.publish(
                    webhooks.EventType.CREDITS_PURCHASED,
                    {"userId": uid, "credits": notice.fields["credits"]},
                    uid=uid,
                )
            elif notice.type is notifications.NoticeType.CREDITS_LOW:
                self.publish(
                    webhooks.EventType.CREDITS_LOW, {"userId": uid, **notice.fields}, uid=uid
                )
        account = told.account
        self._transaction.set(
            self._store.billing_ref(uid),
            {
                "balance": account.balance,
                "held": account.held,
                "lastDailyFreeDay": account.last_daily_free_day,
                "lifetime": dict(account.lifetime),
                "limits": {
                    "processing": account.processing,
                    "startTokens": account.start_bucket.tokens,
                    "startTokensAt": account.start_bucket.at,
                },
                "alerts": {"lowCredits": account.low_credits_alerted},
                "updatedAt": firestore.SERVER_TIMESTAMP,
            },
        )
        for entry in change.entries:
            self._transaction.create(
                self._store.ledger_ref(uid, entry.entry_id),
                {
                    "kind": entry.kind.value,
                    "amount": entry.amount,
                    "balanceAfter": entry.balance_after,
                    "heldAfter": entry.held_after,
                    "generationId": entry.generation_id,
                    "generationType": entry.generation_type,
                    "eventId": entry.event_id,
                    "reason": entry.reason,
                    "createdAt": firestore.SERVER_TIMESTAMP,
                },
            )

    def save_usage_day(self, uid: str, day: date, fields: dict[str, Any]) -> None:
        self._transaction.set(self._store.usage_ref(uid, day), fields)


class GenerationStore:
    """Paths, queries and transactions of generations, billing and usage."""

    def __init__(
        self,
        client: firestore.Client,
        claims: ClaimPolicy | None = None,
        notices: notifications.NoticePolicy | None = None,
    ) -> None:
        self._client = client
        self._claims = RequestClaims(client, claims or ClaimPolicy())
        self.notices = notices or notifications.NoticePolicy()

    def _document(self, *path: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.document(*path)
        return ref

    def public_ref(self, generation_id: str) -> firestore.DocumentReference:
        return self._document(LIVE_GENERATIONS, generation_id)

    def private_ref(self, uid: str, generation_id: str) -> firestore.DocumentReference:
        return self._document(USERS, uid, USER_GENERATIONS, generation_id)

    def usage_ref(self, uid: str, day: date) -> firestore.DocumentReference:
        return self._document(USERS, uid, USAGE, day.isoformat())

    def billing_ref(self, uid: str) -> firestore.DocumentReference:
        return self._document(BILLING, uid)

    def ledger_ref(self, uid: str, entry_id: str) -> firestore.DocumentReference:
        return self._document(BILLING, uid, LEDGER, entry_id)

    def event_ref(self, generation_id: str, kind: str) -> firestore.DocumentReference:
        return self._document(GENERATION_EVENTS, f"{generation_id}-{kind}")

    def queue_ref(self, generation_id: str) -> firestore.DocumentReference:
        return self._document(MODERATION_QUEUE, generation_id)

    def report_ref(self, generation_id: str, reporter_uid: str) -> firestore.DocumentReference:
        # One document per reporter and generation: a second report is the same one.
        return self._document(GENERATION_REPORTS, f"{generation_id}_{reporter_uid}")

    def subscriptions_ref(self) -> firestore.DocumentReference:
        return self._document(WEBHOOK_SUBSCRIPTIONS, SUBSCRIPTIONS_DOCUMENT)

    def new_outbox_ref(self) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(WEBHOOK_EVENTS).document()
        return ref

    def new_notification_ref(self, uid: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = (
            self._client.collection(USERS).document(uid).collection(NOTIFICATIONS).document()
        )
        return ref

    def mark_notifications_read(
        self, uid: str, notification_ids: Sequence[str] | None, limit: int
    ) -> tuple[int, bool]:
        """Set ``read`` on the user's notifications (these ids, or up to ``limit``
        unread ones): how many changed, and whether unread ones remain."""
        notices = self._client.collection(USERS).document(uid).collection(NOTIFICATIONS)
        if notification_ids is not None:
            refs = [notices.document(notification_id) for notification_id in notification_ids]
            unread = [
                snapshot.reference
                for snapshot in self._client.get_all(refs, field_paths=["read"])
                if snapshot.exists and snapshot.get("read") is False
            ]
            more = False
        else:
            query = notices.where(filter=FieldFilter("read", "==", False)).limit(limit + 1)
            unread = [snapshot.reference for snapshot in query.select([]).stream()]
            more = len(unread) > limit
            unread = unread[:limit]
        for start in range(0, len(unread), MAX_BATCH_WRITES):
            batch = self._client.batch()
            for ref in unread[start : start + MAX_BATCH_WRITES]:
                batch.update(ref, {"read": True, "readAt": firestore.SERVER_TIMESTAMP})
            batch.commit()
        return len(unread), more

    def preview_ref(self, generation_id: str) -> firestore.DocumentReference:
        return self._document(PREVIEWS, generation_id)

    def outputs_ref(self, generation_id: str) -> firestore.DocumentReference:
        return self._document(GENERATION_OUTPUTS, generation_id)

    def generation_with_outputs(self, generation_id: str) -> GenerationWithOutputs | None:
        """A generation's public half, its owner's record and its output record: two
        reads (the owner's record is found through the public half)."""
        public = self.public_ref(generation_id).get()
        if not public.exists:
            return None
        fields = public.to_dict() or {}
        refs = [
            self.private_ref(str(fields["userId"]), generation_id),
            self.outputs_ref(generation_id),
        ]
        found = {
            snapshot.reference.path: snapshot.to_dict() or {}
            for snapshot in self._client.get_all(refs)
            if snapshot.exists
        }
        return GenerationWithOutputs(
            public=fields,
            private=found.get(refs[0].path, {}),
            outputs=found.get(refs[1].path, {}).get("outputs", []),
        )

    def new_generation_id(self) -> str:
        generation_id: str = self._client.collection(LIVE_GENERATIONS).document().id
        return generation_id

    def run(self, work: Callable[[StoreTransaction], Result]) -> Result:
        """Run ``work`` in one transaction; it may run again if the transaction retries."""
        return run_transaction(
            self._client,
            lambda transaction: work(StoreTransaction(self, transaction)),
            contended="too many concurrent updates of the same account; retry shortly",
        )

    def run_claimed(self, key: str, work: Callable[[StoreTransaction], Result]) -> Result:
        """Like ``run``, while holding the claim on an idempotency ``key`` (see claims.py)."""
        with self._claims.held(key):
            return self.run(work)

    def report_exists(self, generation_id: str, reporter_uid: str) -> bool:
        exists: bool = self.report_ref(generation_id, reporter_uid).get(field_paths=[]).exists
        return exists

    def report_count(self, generation_id: str) -> int:
        snapshot = self.queue_ref(generation_id).get(field_paths=["reportCount"])
        return int(snapshot.get("reportCount") or 0) if snapshot.exists else 0

    def moderation_queue(self, status: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Queue entries with this status, most reported first."""
        entries = (
            self._client.collection(MODERATION_QUEUE)
            .where(filter=FieldFilter("status", "==", status))
            .order_by("reportCount", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in entries.stream()]

    def public_generations(self, generation_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The public documents of these generations that exist, by id (one batched read)."""
        refs = [self.public_ref(generation_id) for generation_id in generation_ids]
        return {
            snapshot.id: snapshot.to_dict() or {}
            for snapshot in self._client.get_all(refs)
            if snapshot.exists
        }

    def generation_owner(self, generation_id: str) -> str | None:
        """The uid of the generation's owner (it never changes), or None if there is none."""
        snapshot = self.public_ref(generation_id).get(field_paths=["userId"])
        return str(snapshot.get("userId")) if snapshot.exists else None

    def park_purchase(self, event_id: str, user_id: str, credits: int) -> bool:
        """Keep a purchase nobody can be credited with for review; False if already parked."""
        try:
            self._document(PAYMENT_REVIEWS, event_id).create(
                {
                    "eventId": event_id,
                    "userId": user_id,
                    "credits": credits,
                    "reason": "no account with this user id",
                    "receivedAt": firestore.SERVER_TIMESTAMP,
                }
            )
        except google_exceptions.AlreadyExists:
            return False
        return True

    def generation_started(self, uid: str, generation_id: str) -> bool:
        """Whether the user's history has this generation (read outside any transaction)."""
        return bool(self.private_ref(uid, generation_id).get().exists)

    def account(self, uid: str) -> Account:
        snapshot = self.billing_ref(uid).get()
        return account_from_document(snapshot.to_dict() if snapshot.exists else None)

    def live_query(self, query: LiveQuery) -> firestore.Query:
        """The feed's query, newest first: read once here, or listened to by dashboards."""
        feed: Any = self._client.collection(LIVE_GENERATIONS)
        for field, value in (
            ("type", query.type),
            ("engine", query.engine),
            ("status", query.status),
        ):
            if value is not None:
                feed = feed.where(filter=FieldFilter(field, "==", str(value)))
        ordered: firestore.Query = feed.order_by(
            "createdAt", direction=firestore.Query.DESCENDING
        ).limit(query.limit)
        return ordered

    def live_generations(self, query: LiveQuery) -> list[tuple[str, dict[str, Any]]]:
        """The newest public generations, optionally filtered by equality."""
        feed = self.live_query(query).stream()
        return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in feed]

    def stuck_generations(self, started_before: datetime, limit: int, skip: int = 0) -> list[str]:
        """Ids of generations still processing that started before the cutoff, oldest
        first, passing over the ``skip`` oldest."""
        stuck = (
            self._client.collection(LIVE_GENERATIONS)
            .where(filter=FieldFilter("status", "==", Status.PROCESSING.value))
            .where(filter=FieldFilter("createdAt", "<", started_before))
            .order_by("createdAt")
            .offset(skip)
            .limit(limit)
        )
        return [snapshot.id for snapshot in stuck.stream()]

    def usage_days(self, uid: str, first_day: date) -> list[dict[str, Any]]:
        """The user's daily usage documents from ``first_day`` on (one per day at most)."""
        days = (
            self._client.collection(USERS)
            .document(uid)
            .collection(USAGE)
            .where(filter=FieldFilter("day", ">=", first_day.isoformat()))
        )
        return [snapshot.to_dict() or {} for snapshot in days.stream()]

    def accounts_with_ledgers(self) -> Iterator[tuple[str, Account, list[AuditedEntry]]]:
        """Every billing account with its whole ledger, for the audit."""
        for billing in self._client.collection(BILLING).stream():
            entries = [
                AuditedEntry(
                    kind=EntryKind(fields["kind"]),
                    amount=int(fields["amount"]),
                    generation_id=fields.get("generationId"),
                )
                for fields in (
                    entry.to_dict() or {} for entry in billing.reference.collection(LEDGER).stream()
                )
            ]
            yield billing.id, account_from_document(billing.to_dict()), entries

    def expired_generations(self, created_before: datetime, limit: int) -> list[tuple[str, str]]:
        """``(generation id, owner uid)`` of generations created before the cutoff, oldest first."""
        expired = (
            self._client.collection(LIVE_GENERATIONS)
            .where(filter=FieldFilter("createdAt", "<", created_before))
            .order_by("createdAt")
            .limit(limit)
            .select(["userId"])
        )
        return [(snapshot.id, str(snapshot.get("userId"))) for snapshot in expired.stream()]

    def delete_generations(self, generations: Sequence[tuple[str, str]]) -> None:
        """Delete both halves of each ``(generation id, owner uid)``, with its preview
        and output record; missing ones are no error.

        A generation's documents go in the same batched write, so a generation
        never loses one half without the other, nor keeps a preview without them.
        """
        per_batch = MAX_BATCH_WRITES // 4
        for start in range(0, len(generations), per_batch):
            batch = self._client.batch()
            for generation_id, uid in generations[start : start + per_batch]:
                batch.delete(self.public_ref(generation_id))
                batch.delete(self.private_ref(uid, generation_id))
                batch.delete(self.preview_ref(generation_id))
                batch.delete(self.outputs_ref(generation_id))
            batch.commit()

    def _created_between(self, first_day: date, last_day: date) -> Any:
        start, end = utc_day_bounds(first_day, last_day)
        return (
            self._client.collection(LIVE_GENERATIONS)
            .where(filter=FieldFilter("createdAt", ">=", start))
            .where(filter=FieldFilter("createdAt", "<", end))
            .order_by("createdAt")
        )

    def count_created_between(self, first_day: date, last_day: date) -> int:
        """How many public generations were created on these UTC days: one aggregation."""
        results = self._created_between(first_day, last_day).count(alias="n").get()
        return int(results[0][0].value)

    def created_between(
        self, first_day: date, last_day: date, fields: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(id, fields)`` of the public generations created on these UTC days, oldest
        first, a page at a time (one long stream may time out)."""
        query = self._created_between(first_day, last_day).select(list(fields))
        after = None
        while True:
            page = (query.start_after(after) if after is not None else query).limit(EXPORT_PAGE)
            snapshots = list(page.stream())
            for snapshot in snapshots:
                yield snapshot.id, snapshot.to_dict() or {}
            if len(snapshots) < EXPORT_PAGE:
                return
            after = snapshots[-1]
