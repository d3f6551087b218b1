"""The feed snapshots' delayed rebuilds, as Cloud Tasks on the ``rebuildFeedSnapshot``
queue: a task per claimed period, scheduled for the period's start.

A task runs on its own, not in the trigger that claimed the period, so no
trigger waits (the emulator hands Firestore triggers their events one at a
time: a waiting trigger would hold up every other one). Deployed, the
functions' service account needs the Cloud Tasks Enqueuer role (see the README).
"""

from __future__ import annotations

from firebase_admin import functions

from generations_live.domain.feed_views import FeedView, slot_start

REBUILD_QUEUE = "rebuildFeedSnapshot"


def enqueue_rebuild(view: FeedView, slot: int) -> None:
    """Have ``view`` rebuilt for ``slot`` once that period starts."""
    options = functions.TaskOptions(schedule_time=slot_start(slot))
    # The task function reads the request body's ``data``, as a callable does.
    functions.task_queue(REBUILD_QUEUE).enqueue({"data": {"view": view.id, "slot": slot}}, options)
