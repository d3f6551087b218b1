"""Housekeeping use cases: removing generations past their retention.

Run daily by the scheduled ``cleanupGenerations`` and on demand by the
operator CLI, with the store, settings and clock passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from generations_live.adapters.generations import GenerationStore
from generations_live.domain.settings import Settings


def cleanup_generations(
    store: GenerationStore,
    settings: Settings,
    now: datetime,
    *,
    batch_size: int = 200,
    max_batches: int = 100,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete feed and history documents older than the retention; returns how many.

    Deletes at most ``max_batches`` batches of ``batch_size`` generations,
    oldest first, both halves of each together; a run that stops at the bound
    leaves the rest to the next one. ``on_batch`` hears each batch's count.

    Only ``live_generations/{gid}`` and ``users/{uid}/generations/{gid}`` are
    deleted: billing, ledgers, usage days and analytics rollups stay, and so
    do ``generation_events``, left to the analytics code because an event
    newer than its watermark has not been counted yet. Safe to rerun or
    overlap: deleting a document already gone is no error, though overlapping
    runs may both count it.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = now - settings.retention
    deleted = 0
    for _ in range(max_batches):
        expired = store.expired_generations(cutoff, batch_size)
        if not expired:
            break
        store.delete_generations(expired)
        deleted += len(expired)
        if on_batch is not None:
            on_batch(len(expired))
        if len(expired) < batch_size:
            break
    return deleted
