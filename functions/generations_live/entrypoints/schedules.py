"""Scheduled functions. Cloud Scheduler calls them over HTTP; the operator CLI
runs the same use cases on demand (the emulator does not run schedules).

The use cases and the Firestore client load on a run, not at import.
"""
# ruff: noqa: N802, PLC0415 - camelCase names are the deployed ones; imports are deferred

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firebase_functions import logger, options, scheduler_fn

from generations_live.entrypoints.deployment import SCHEDULES

# How long one deliverWebhooks run keeps sending: less than its minute.
DELIVERY_BUDGET = timedelta(seconds=50)


@scheduler_fn.on_schedule(schedule="every 5 minutes", **SCHEDULES)
def sweepStuckGenerations(event: scheduler_fn.ScheduledEvent) -> None:
    """Fail generations stuck in processing past the timeout, releasing their credits."""
    from generations_live.adapters.config import notice_policy, settings
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.generations import GenerationStore
    from generations_live.services import tracking

    now = event.schedule_time or datetime.now(UTC)
    store = GenerationStore(default_client(), notices=notice_policy())
    swept = tracking.sweep_stuck_generations(store, settings(), now)
    logger.info("swept stuck generations", swept=swept, job=event.job_name)


@scheduler_fn.on_schedule(schedule="every day 03:00", timezone=options.Timezone("UTC"), **SCHEDULES)
def cleanupGenerations(event: scheduler_fn.ScheduledEvent) -> None:
    """Delete feed and history documents older than GENERATION_RETENTION_DAYS."""
    from generations_live.adapters.config import settings
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.generations import GenerationStore
    from generations_live.services import maintenance

    now = event.schedule_time or datetime.now(UTC)
    deleted = maintenance.cleanup_generations(GenerationStore(default_client()), settings(), now)
    logger.info("cleaned up expired generations", deleted=deleted, job=event.job_name)


@scheduler_fn.on_schedule(schedule="every 1 minutes", **SCHEDULES)
def deliverWebhooks(event: scheduler_fn.ScheduledEvent) -> None:
    """Send every webhook delivery whose retry is due, and any event the dispatcher missed."""
    from generations_live.entrypoints.couriers import courier

    # Within the minute, so runs do not pile up behind each other.
    counts = courier().deliver_due(budget=DELIVERY_BUDGET)
    logger.info("delivered due webhooks", job=event.job_name, **counts)


@scheduler_fn.on_schedule(schedule="every 5 minutes", **SCHEDULES)
def refreshFeedSnapshots(event: scheduler_fn.ScheduledEvent) -> None:
    """Rebuild every feed snapshot that differs from its query (a missed change, a lost builder)."""
    from generations_live.adapters.feed_snapshots import FeedSnapshotStore
    from generations_live.adapters.firestore import default_client
    from generations_live.services import feed_snapshots

    report = feed_snapshots.rebuild_all(FeedSnapshotStore(default_client()))
    logger.info("feed snapshots rebuilt", job=event.job_name, **report.counts())


@scheduler_fn.on_schedule(schedule="every 5 minutes", **SCHEDULES)
def rollupAnalytics(event: scheduler_fn.ScheduledEvent) -> None:
    """Fold new generation events and ledger entries into the analytics rollups."""
    from generations_live.adapters.config import settings
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.rollups import RollupBusy, RollupStore
    from generations_live.services import rollups

    # The real clock, not the schedule's: a retried run must cover what
    # happened since, and overlapping runs are safe by construction.
    now = datetime.now(UTC)
    store = RollupStore(default_client())
    failed: list[str] = []
    for rollup in rollups.ROLLUPS:
        try:
            report = rollups.run_rollup(store, rollup, now, lag=settings().rollup_lag)
        except RollupBusy as busy:
            logger.info("rollup skipped", rollup=rollup.spec.name, reason=busy.message)
            continue
        except Exception as error:  # one rollup failing never stops the others
            failed.append(rollup.spec.name)
            logger.error("rollup failed", rollup=rollup.spec.name, error=repr(error))
            continue
        logger.info(
            "rolled up analytics",
            rollup=report.name,
            events=report.events,
            caught_up=report.caught_up,
            job=event.job_name,
        )
    if failed:
        # After the others ran: the scheduler records the failure and retries.
        raise RuntimeError(f"rollups failed: {', '.join(failed)}")
