"""Functions Firestore runs on a change: the webhook outbox's dispatcher and
the feed snapshots' maintainer, with the task queue function that rebuilds a
snapshot when its period starts.

Each event the tracking and billing transactions write to ``webhook_events``
is fanned out and sent at once. Firestore triggers are delivered at most
once here (the SDK cannot ask for retries of them, and the emulator never
redelivers), so nothing depends on this one running: the ``deliverWebhooks``
schedule sends whatever it leaves, every minute.

Every change of a feed document refreshes the snapshots of the views it
touches (``services/feed_snapshots.py``); a missed one is put right by the
``refreshFeedSnapshots`` schedule.

The use cases and the Firestore client load on the first event, not at import.
"""
# ruff: noqa: N802, PLC0415 - the camelCase name is the deployed one; imports are deferred

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from firebase_functions import firestore_fn, https_fn, logger, options, tasks_fn

if TYPE_CHECKING:
    from generations_live.services.feed_snapshots import LeaseMemo

from generations_live.adapters.collections import LIVE_GENERATIONS, WEBHOOK_EVENTS
from generations_live.entrypoints.deployment import DISPATCHER, FEED_MAINTAINER


@firestore_fn.on_document_created(document=f"{WEBHOOK_EVENTS}/{{eventId}}", **DISPATCHER)
def dispatchWebhookEvent(event: firestore_fn.Event[Any]) -> None:
    """Fan a new outbox event out to its endpoints and send it now."""
    from generations_live.entrypoints.couriers import courier

    event_id = str(event.params["eventId"])
    sent = courier().dispatch(event_id)
    logger.info("webhook event dispatched", eventId=event_id, **sent)


@functools.cache
def _lease_memo() -> LeaseMemo:
    """The leases this instance has seen, shared by the changes it handles at once."""
    from generations_live.services.feed_snapshots import LeaseMemo

    return LeaseMemo()


@firestore_fn.on_document_written(
    document=f"{LIVE_GENERATIONS}/{{generationId}}", **FEED_MAINTAINER
)
def maintainFeedSnapshots(event: firestore_fn.Event[Any]) -> None:
    """Rebuild, at most once a second each, the snapshots of the views a feed change touches."""
    from generations_live.adapters.feed_snapshots import FeedSnapshotStore
    from generations_live.adapters.feed_tasks import enqueue_rebuild
    from generations_live.adapters.firestore import default_client
    from generations_live.domain.feed_views import views_changed_by
    from generations_live.services import feed_snapshots

    # The change is committed before its event is sent, so the time now is
    # later than its commit: a rebuild claimed after now is sure to see it. (The
    # event's own time is cut to the second by the emulator, and a later time
    # only ever asks for a rebuild more, never one less.)
    changed_at = datetime.now(UTC)
    change = event.data
    before = change.before.to_dict() if change.before is not None else None
    after = change.after.to_dict() if change.after is not None else None
    views = views_changed_by(before, after)
    report = feed_snapshots.refresh(
        FeedSnapshotStore(default_client()),
        views,
        changed_at,
        memo=_lease_memo(),
        later=enqueue_rebuild,
    )
    logger.debug(
        "feed snapshots refreshed", generationId=event.params["generationId"], **report.counts()
    )


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(max_attempts=5, min_backoff_seconds=1, max_backoff_seconds=10),
    rate_limits=options.RateLimits(max_concurrent_dispatches=50),
    **FEED_MAINTAINER,
)
def rebuildFeedSnapshot(request: https_fn.CallableRequest[Any]) -> None:
    """Rebuild one feed view's snapshot for the period its task was scheduled for."""
    from generations_live.adapters.feed_snapshots import FeedSnapshotStore
    from generations_live.adapters.firestore import default_client
    from generations_live.domain.feed_views import VIEWS_BY_ID
    from generations_live.services import feed_snapshots

    data = request.data if isinstance(request.data, dict) else {}
    view = VIEWS_BY_ID.get(str(data.get("view")))
    slot = data.get("slot")
    if view is None or not isinstance(slot, int):
        # Only this backend enqueues here: a malformed task is a bug, not worth retries.
        logger.error("malformed feed rebuild task", data=str(data)[:200])
        return
    written = feed_snapshots.rebuild_when_due(FeedSnapshotStore(default_client()), view, slot)
    logger.debug("feed snapshot rebuilt", view=view.id, slot=slot, written=written)
