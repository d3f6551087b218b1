"""Every Firestore path, query and transaction of the project, in one place."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from generations_live.documents import GenerationDocuments
from generations_live.errors import NotFound
from generations_live.generation import GenerationType, Status

LIVE_GENERATIONS = "live_generations"
USERS = "users"
USER_GENERATIONS = "generations"
# The emulator serialises transactions with locks, and production retries
# aborted ones: a burst of retries of one request must all get an answer.
TRANSACTION_ATTEMPTS = 25


@functools.cache
def default_client() -> firestore.Client:
    """The process-wide client, built on first use rather than at import.

    Against the emulator no credentials exist (``demo-*`` projects), so the
    client is given anonymous ones explicitly.
    """
    project = os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return firestore.Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    return firestore.Client(project=project)


@dataclass(frozen=True)
class StoredGeneration:
    """A generation as read inside a status-update transaction."""

    generation_id: str
    owner_id: str
    status: Status
    created_at: datetime | None


@dataclass(frozen=True)
class StartOutcome:
    generation_id: str
    status: Status
    created: bool


@dataclass(frozen=True)
class LiveQuery:
    limit: int
    type: GenerationType | None = None
    engine: str | None = None
    status: Status | None = None


class GenerationStore:
    """Reads and writes generations; both halves always change in one transaction."""

    def __init__(self, client: firestore.Client) -> None:
        self._client = client

    def public_ref(self, generation_id: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(LIVE_GENERATIONS).document(
            generation_id
        )
        return ref

    def private_ref(self, uid: str, generation_id: str) -> firestore.DocumentReference:
        history = self._client.collection(USERS).document(uid).collection(USER_GENERATIONS)
        ref: firestore.DocumentReference = history.document(generation_id)
        return ref

    def new_generation_id(self) -> str:
        generation_id: str = self._client.collection(LIVE_GENERATIONS).document().id
        return generation_id

    def start_generation(
        self, uid: str, generation_id: str, documents: GenerationDocuments
    ) -> StartOutcome:
        """Create both documents unless this generation already exists.

        The existence check and the writes share one transaction, so concurrent
        retries of one request create it once and all see the same id.
        """
        public_ref = self.public_ref(generation_id)
        private_ref = self.private_ref(uid, generation_id)

        @firestore.transactional
        def start(transaction: firestore.Transaction) -> StartOutcome:
            existing = private_ref.get(transaction=transaction)
            if existing.exists:
                status = Status((existing.to_dict() or {})["status"])
                return StartOutcome(generation_id=generation_id, status=status, created=False)
            stamps = {
                "createdAt": firestore.SERVER_TIMESTAMP,
                "updatedAt": firestore.SERVER_TIMESTAMP,
            }
            transaction.create(public_ref, {**documents.public, **stamps})
            transaction.create(private_ref, {**documents.private, **stamps})
            return StartOutcome(generation_id=generation_id, status=Status.PROCESSING, created=True)

        outcome: StartOutcome = start(self._client.transaction(max_attempts=TRANSACTION_ATTEMPTS))
        return outcome

    def update_generation(
        self,
        generation_id: str,
        decide: Callable[[StoredGeneration], GenerationDocuments | None],
    ) -> StoredGeneration:
        """Read a generation and apply ``decide``'s changes to both halves atomically.

        ``decide`` runs inside the transaction (possibly more than once, when it
        retries) and returns ``None`` to write nothing.
        """
        public_ref = self.public_ref(generation_id)

        @firestore.transactional
        def update(transaction: firestore.Transaction) -> StoredGeneration:
            public = public_ref.get(transaction=transaction)
            if not public.exists:
                raise NotFound(
                    f"no generation with id {generation_id!r}", details={"field": "generationId"}
                )
            fields: dict[str, Any] = public.to_dict() or {}
            stored = StoredGeneration(
                generation_id=generation_id,
                owner_id=str(fields["userId"]),
                status=Status(fields["status"]),
                created_at=fields.get("createdAt"),
            )
            private_ref = self.private_ref(stored.owner_id, generation_id)
            changes = decide(stored)
            if changes is not None:
                stamps: dict[str, Any] = {"updatedAt": firestore.SERVER_TIMESTAMP}
                if changes.public.get("status") in {s.value for s in Status if s.is_terminal}:
                    stamps["completedAt"] = firestore.SERVER_TIMESTAMP
                transaction.update(public_ref, {**changes.public, **stamps})
                transaction.update(private_ref, {**changes.private, **stamps})
            return stored

        stored: StoredGeneration = update(
            self._client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
        )
        return stored

    def live_generations(self, query: LiveQuery) -> list[tuple[str, dict[str, Any]]]:
        """The newest public generations, optionally filtered by equality."""
        feed: Any = self._client.collection(LIVE_GENERATIONS)
        for field, value in (
            ("type", query.type),
            ("engine", query.engine),
            ("status", query.status),
        ):
            if value is not None:
                feed = feed.where(filter=FieldFilter(field, "==", str(value)))
        feed = feed.order_by("createdAt", direction=firestore.Query.DESCENDING).limit(query.limit)
        return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in feed.stream()]
