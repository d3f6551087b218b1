"""The feed's snapshots: one document per view the dashboard offers, holding the
50 newest entries of that view, so a dashboard listens to one document
instead of a query. Pure rules.

A realtime query listener is billed a read for every document that enters,
changes in or leaves its result set, so its cost grows with the traffic. A
snapshot document is rewritten at most once per period (``PERIOD``), so a
listener on it pays at most one read per period whatever the traffic.

The views are every equality filter the dashboard offers: all generations,
each type, each status, and each type with each status (25 documents).
A view's snapshot is exactly the feed query it stands for (newest first, 50
entries, the public fields), except that a prompt longer than
``ENTRY_PROMPT_LENGTH`` characters is cut and flagged ``promptTruncated``,
which keeps the document far below Firestore's 1 MiB (the feed document
itself keeps the whole prompt).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from generations_live.domain.documents import PUBLIC_FIELDS, public_view
from generations_live.domain.lifecycle import GenerationType, Status

# Entries in a snapshot: the dashboard's feed length, and the rules' limit on
# a feed query.
SNAPSHOT_SIZE: Final = 50
# A snapshot is written at most once per period: Firestore sustains about one
# write per second on a document, and a listener pays a read per write.
PERIOD: Final = timedelta(seconds=1)
# Prompts are bounded at 4,000 characters (12,000 bytes); 50 of them would
# take most of a document. Entries carry the first 500 characters.
ENTRY_PROMPT_LENGTH: Final = 500
TRUNCATED_FLAG: Final = "promptTruncated"
# The fields an entry carries: the feed's public fields, the id and the flag.
ENTRY_FIELDS: Final = ("id", *PUBLIC_FIELDS, TRUNCATED_FLAG)


@dataclass(frozen=True, order=True)
class FeedView:
    """One equality filter of the feed: a type, a status, both or neither."""

    type: str | None = None
    status: str | None = None

    @property
    def id(self) -> str:
        """The snapshot's document id: ``all``, ``type-image``, ``status-completed``,
        ``type-image-status-completed`` (web/live-feed.js spells the same)."""
        parts = [f"{name}-{value}" for name, value in self.filters() if value is not None]
        return "-".join(parts) or "all"

    def filters(self) -> tuple[tuple[str, str | None], ...]:
        return (("type", self.type), ("status", self.status))

    def matches(self, fields: Mapping[str, Any]) -> bool:
        """Whether a feed document with these fields is in this view's query."""
        return all(value is None or fields.get(name) == value for name, value in self.filters())


ALL_VIEWS: Final = tuple(
    FeedView(type=kind, status=status)
    for kind in (None, *(each.value for each in GenerationType))
    for status in (None, *(each.value for each in Status))
)
VIEWS_BY_ID: Final = {view.id: view for view in ALL_VIEWS}


def views_changed_by(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[FeedView]:
    """The views a change of one feed document can alter: those its old or its new
    version belongs to (a status change leaves one status view and enters another)."""
    versions = [fields for fields in (before, after) if fields is not None]
    return [view for view in ALL_VIEWS if any(view.matches(fields) for fields in versions)]


def snapshot_entry(generation_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of a snapshot: the feed document's public fields and its id, the
    prompt cut to ``ENTRY_PROMPT_LENGTH`` characters (flagged when it is)."""
    entry = public_view(generation_id, dict(fields))
    prompt = entry.get("prompt")
    truncated = isinstance(prompt, str) and len(prompt) > ENTRY_PROMPT_LENGTH
    if isinstance(prompt, str) and truncated:
        entry["prompt"] = prompt[: ENTRY_PROMPT_LENGTH - 1] + "…"
    entry[TRUNCATED_FLAG] = truncated
    return entry


def snapshot_entries(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """A snapshot's entries from its query's documents, in the query's order."""
    return [snapshot_entry(generation_id, fields) for generation_id, fields in documents]


def slot_of(moment: datetime) -> int:
    """The period a moment falls in, numbered from the epoch."""
    return math.floor(moment.timestamp() / PERIOD.total_seconds())


def slot_start(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * PERIOD.total_seconds(), UTC)
