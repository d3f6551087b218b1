"""Scheduled functions. Cloud Scheduler calls them over HTTP; the operator CLI
runs the same use cases on demand (the emulator does not run schedules)."""

from __future__ import annotations

from datetime import UTC, datetime

from firebase_functions import logger, scheduler_fn

from generations_live import tracking
from generations_live.config import settings
from generations_live.store import GenerationStore, default_client


@scheduler_fn.on_schedule(schedule="every 5 minutes")
def sweepStuckGenerations(event: scheduler_fn.ScheduledEvent) -> None:  # noqa: N802
    """Fail generations stuck in processing past the timeout, releasing their credits."""
    now = event.schedule_time or datetime.now(UTC)
    swept = tracking.sweep_stuck_generations(GenerationStore(default_client()), settings(), now)
    logger.info("swept stuck generations", swept=swept, job=event.job_name)
