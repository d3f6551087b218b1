"""Synthetic generation history for rollup tests and benchmarks: raw documents
of past days, shaped exactly as the functions write them, written straight to
Firestore (the functions can only stamp the present)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.document import DocumentReference
from google.cloud.firestore_v1.query import Query

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
    pending = 0
    for index in range(count):
        created = now - timedelta(days=rng.randint(1, span_days), seconds=rng.randint(0, 86_399))
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
        batch.set(db.document(f"live_generations/{generation_id}"), fields)
        batch.set(db.document(f"users/{uid}/generations/{generation_id}"), {**fields, "cost": 0})
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


class DocumentReads:
    """How many documents the Firestore client handed back: gets and query results."""

    def __init__(self) -> None:
        self.count = 0


@contextmanager
def counting_document_reads() -> Iterator[DocumentReads]:
    """Count document reads made through the client inside the block (Firestore bills these)."""
    reads = DocumentReads()
    original_get, original_stream = DocumentReference.get, Query.stream

    def counted_get(ref: DocumentReference, *args: Any, **kwargs: Any) -> Any:
        reads.count += 1
        return original_get(ref, *args, **kwargs)

    def counted_stream(query: Query, *args: Any, **kwargs: Any) -> Any:
        for snapshot in original_stream(query, *args, **kwargs):
            reads.count += 1
            yield snapshot

    DocumentReference.get = counted_get  # type: ignore[method-assign,assignment]
    Query.stream = counted_stream  # type: ignore[method-assign,assignment]
    try:
        yield reads
    finally:
        DocumentReference.get = original_get  # type: ignore[method-assign]
        Query.stream = original_stream  # type: ignore[method-assign]
