"""The feed's views and snapshot entries, and when a claimed rebuild covers a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from generations_live.adapters.feed_snapshots import Lease
from generations_live.domain.documents import PUBLIC_FIELDS
from generations_live.domain.feed_views import (
    ALL_VIEWS,
    ENTRY_PROMPT_LENGTH,
    VIEWS_BY_ID,
    FeedView,
    slot_of,
    slot_start,
    snapshot_entry,
    views_changed_by,
)
from generations_live.services.feed_snapshots import LeaseMemo, covers

MOMENT = datetime(2026, 12, 3, 12, 0, 0, 250_000, tzinfo=UTC)


def feed_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict.fromkeys(PUBLIC_FIELDS)
    fields.update(type="image", status="processing", prompt="a lighthouse", hidden=False)
    fields.update(changes)
    return fields


def test_every_filter_the_dashboard_offers_has_one_view() -> None:
    assert len(ALL_VIEWS) == 25
    assert len(VIEWS_BY_ID) == 25
    assert {"all", "type-image", "status-failed", "type-text-status-canceled"} <= set(VIEWS_BY_ID)
    # Ids are valid Firestore document ids, spelled as web/live-feed.js spells them.
    assert all("/" not in view_id and not view_id.startswith("__") for view_id in VIEWS_BY_ID)
    assert FeedView(type="audio", status="completed").id == "type-audio-status-completed"


def test_a_status_change_touches_the_views_of_both_versions() -> None:
    before = feed_fields(type="video", status="processing")
    after = feed_fields(type="video", status="completed")
    touched = {view.id for view in views_changed_by(before, after)}
    assert touched == {
        "all",
        "type-video",
        "status-processing",
        "status-completed",
        "type-video-status-processing",
        "type-video-status-completed",
    }


@pytest.mark.parametrize(("before", "after"), [(None, feed_fields()), (feed_fields(), None)])
def test_a_start_or_a_deletion_touches_four_views(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    touched = {view.id for view in views_changed_by(before, after)}
    assert touched == {"all", "type-image", "status-processing", "type-image-status-processing"}


def test_an_entry_has_the_public_fields_and_no_private_one() -> None:
    fields = feed_fields(userEmail="grace@example.com", cost=5, requestId="r-1")
    entry = snapshot_entry("gen-1", fields)
    assert set(entry) == {"id", *PUBLIC_FIELDS, "promptTruncated"}
    assert entry["id"] == "gen-1"
    assert entry["promptTruncated"] is False
    assert "grace@example.com" not in repr(entry)


def test_a_long_prompt_is_cut_and_flagged() -> None:
    prompt = "灯" * 4000
    entry = snapshot_entry("gen-1", feed_fields(prompt=prompt))
    assert entry["promptTruncated"] is True
    assert len(entry["prompt"]) == ENTRY_PROMPT_LENGTH
    assert entry["prompt"].endswith("…")
    exact = snapshot_entry("gen-2", feed_fields(prompt="x" * ENTRY_PROMPT_LENGTH))
    assert exact["promptTruncated"] is False
    private = snapshot_entry("gen-3", feed_fields(prompt=None))
    assert (private["prompt"], private["promptTruncated"]) == (None, False)


def test_slots_are_whole_seconds() -> None:
    slot = slot_of(MOMENT)
    assert slot_start(slot) == MOMENT.replace(microsecond=0)
    assert slot_of(slot_start(slot + 1)) == slot + 1


def test_a_claim_covers_a_change_it_follows_or_whose_period_starts_after_it() -> None:
    slot = slot_of(MOMENT)
    # Claimed before the change, for the period the change falls in: not covered.
    assert not covers(Lease(slot, MOMENT - timedelta(milliseconds=100)), MOMENT)
    # Claimed after the change: its builder queries after it.
    assert covers(Lease(slot, MOMENT + timedelta(milliseconds=1)), MOMENT)
    # Claimed before the change, for the next period: its builder waits for it.
    assert covers(Lease(slot + 1, MOMENT - timedelta(milliseconds=100)), MOMENT)
    assert not covers(None, MOMENT)


def test_the_memo_keeps_the_latest_lease_and_covers_only_what_it_covers() -> None:
    memo = LeaseMemo()
    view, other = VIEWS_BY_ID["all"], VIEWS_BY_ID["type-image"]
    slot = slot_of(MOMENT)
    memo.remember(view, Lease(slot + 1, MOMENT - timedelta(milliseconds=50)))
    memo.remember(view, Lease(slot, MOMENT - timedelta(milliseconds=900)))  # older: ignored
    assert memo.covering([view, other], MOMENT) == {view}
    later = slot_start(slot + 1) + timedelta(milliseconds=10)
    assert memo.covering([view], later) == set()
