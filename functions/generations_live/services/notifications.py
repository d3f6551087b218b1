"""The user's notifications: marking them read (they are written by the
changes they report, in the same transactions: see domain/notifications.py)."""

from __future__ import annotations

from typing import Any

from generations_live.adapters.generations import GenerationStore
from generations_live.domain.identity import Caller
from generations_live.domain.models import MarkNotificationsReadRequest
from generations_live.domain.notifications import MARK_ALL_BATCH


def mark_read(
    store: GenerationStore, caller: Caller, request: MarkNotificationsReadRequest
) -> dict[str, Any]:
    """Mark the caller's own notifications read: these ids (others' ids and unknown
    ones change nothing), or a batch of every unread one (``more``: call again)."""
    marked, more = store.mark_notifications_read(caller.uid, request.ids, MARK_ALL_BATCH)
    return {"marked": marked, "more": more}
