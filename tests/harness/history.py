"""Synthetic generation history for rollup tests and benchmarks: raw documents
of past days, shaped exactly as the functions write them, written straight to
Firestore (the functions can only stamp the present); new generations started
and finished through the real use cases; and a count of the document reads a
block of code makes."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.document import DocumentReference
from google.cloud.firestore_v1.query import Query

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.credits import CreditPolicy
from generations_live.domain.limits import RateLimits, Tier
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.domain.settings import Settings
from generations_live.services import tracking
from harness.callers import member

TYPES = ("image", "video", "audio", "text")
ENGINES = ("gemini", "sora", "klingai", "runware", "elevenlabs", "flux-1.1")
STATUSES = ("processing", "completed", "failed", "canceled")
BATCH_WRITES = 400


def seed_history(
    db: firestore.Client,
    rng: random.Random,
    count: int,
    span_days: int,
    *,
    prefix: str = "seed",
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """``count`` generations created over the last ``span_days`` days (not today)."""
    now = datetime.now(UTC)
    users = [(f"user-{i:03d}", f"Creator {i}") for i in range(rng.randint(3, 25))]
    batch = db.batch()
    paths = GenerationStore(db)
    pending = 0
    for index in range(count):
        # A moment of one of the ``span_days`` UTC days before today, so a
        # window of that many days holds them all whatever the time of day.
        day = datetime.combine(now.date() - timedelta(days=rng.randint(1, span_days)), time(), UTC)
        created = day + timedelta(seconds=rng.randint(0, 86_399))
        status = rng.choice(STATUSES)
        uid, name = rng.choice(users)
        duration = rng.choice([rng.randint(0, 99), rng.randint(100, 600_000)])
        finished = status != "processing"
        fields: dict[str, Any] = {
            "userId": uid,
            "userName": name,
            "type": rng.choice(TYPES),
            "engine": rng.choice(ENGINES),
            "prompt": "seeded",
            "status": status,
            "batchSize": 1,
            "createdAt": created,
            "updatedAt": created + timedelta(milliseconds=duration) if finished else created,
            "completedAt": created + timedelta(milliseconds=duration) if finished else None,
            "durationMs": duration if finished else None,
            "errorCode": "oom" if status == "failed" else None,
            "expireAt": created + timedelta(days=30),
        }
        generation_id = f"{prefix}-{index:06d}"
        batch.set(paths.public_ref(generation_id), fields)
        batch.set(paths.private_ref(uid, generation_id), {**fields, "cost": 0})
        pending += 2
        if pending >= BATCH_WRITES:
            batch.commit()
            if on_batch is not None:
                on_batch(pending // 2)
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
        if on_batch is not None:
            on_batch(pending // 2)


WORKER = member("bench-worker", {"worker": True})
# Rate limits no simulated user reaches.
UNLIMITED_STARTS = RateLimits(
    standard=Tier("standard", starts_per_minute=10**6, burst=10**6, max_processing=10**6),
    trusted=Tier("trusted", starts_per_minute=10**6, burst=10**6, max_processing=10**6),
)
# The actor a read is counted for, set with ``DocumentReads.actor``. Context
# variables are per thread, so concurrent actors are told apart.
_ACTOR: ContextVar[str] = ContextVar("document_reads_actor", default="")


def unlimited_credits() -> Settings:
    """The deployed settings, except that every simulated user can afford its load
    and start it as fast as it likes (neither credits nor rate limits are what the
    benchmarks measure)."""
    return replace(
        settings(),
        credit_policy=CreditPolicy(overdraft_allowance=0, daily_free_floor=10**9),
        rate_limits=UNLIMITED_STARTS,
    )


def soon() -> datetime:
    """A rollup bound just past now, so events committed a moment ago are folded."""
    return datetime.now(UTC) + timedelta(seconds=1)


def start_generation(store: GenerationStore, uid: str, rng: random.Random) -> str:
    """Start a generation through the real use case; returns its id."""
    caller = member(uid, {"name": uid})
    request = TrackGenerationRequest.model_validate({"type": rng.choice(TYPES), "prompt": "b"})
    started = tracking.track_generation(
        store, caller, request, unlimited_credits(), datetime.now(UTC)
    )
    generation_id: str = started["generationId"]
    return generation_id


def finish_generation(store: GenerationStore, generation_id: str, rng: random.Random) -> str:
    """A worker reports the generation completed (three times in four) or failed; returns
    the status reported."""
    status = rng.choice(["completed", "completed", "completed", "failed"])
    report = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": status, "durationMs": 1234}
    )
    tracking.update_generation_status(store, WORKER, report, datetime.now(UTC))
    return status


def start_and_finish(store: GenerationStore, uid: str, rng: random.Random) -> None:
    finish_generation(store, start_generation(store, uid, rng), rng)


class DocumentReads:
    """How many documents the Firestore client handed back: gets and query results,
    in all and per actor."""

    def __init__(self) -> None:
        self.count = 0
        self.by_actor: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1
            self.by_actor[_ACTOR.get()] += 1

    @contextmanager
    def actor(self, name: str) -> Iterator[None]:
        """Count the reads this thread makes inside the block for ``name``."""
        token = _ACTOR.set(name)
        try:
            yield
        finally:
            _ACTOR.reset(token)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.by_actor)


@contextmanager
def counting_document_reads() -> Iterator[DocumentReads]:
    """Count document reads made through the client inside the block (Firestore bills these).

    Every thread's reads are counted while the block runs; ``DocumentReads.actor``
    tells concurrent readers apart.
    """
    reads = DocumentReads()
    original_get, original_stream = DocumentReference.get, Query.stream

    def counted_get(ref: DocumentReference, *args: Any, **kwargs: Any) -> Any:
        reads.add()
        return original_get(ref, *args, **kwargs)

    def counted_stream(query: Query, *args: Any, **kwargs: Any) -> Any:
        for snapshot in original_stream(query, *args, **kwargs):
            reads.add()
            yield snapshot

    DocumentReference.get = counted_get  # type: ignore[method-assign,assignment]
    Query.stream = counted_stream  # type: ignore[method-assign,assignment]
    try:
        yield reads
    finally:
        DocumentReference.get = original_get  # type: ignore[method-assign]
        Query.stream = original_stream  # type: ignore[method-assign]
