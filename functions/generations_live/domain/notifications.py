"""In-app notifications: which changes a user is told about, and with what.

Pure rules. The store writes the notices these functions return in the same
transaction as the change they report, so a notification exists exactly when
its change does. A user is told when a generation of theirs completes or
fails (a cancel is their own doing, or a moderator's), when credits are
bought for or granted to them, and when their available credits fall below a
threshold: once per crossing, armed again when credits are added and the
account is back at or above the threshold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Final

from generations_live.domain.credits import Account, Change, EntryKind
from generations_live.domain.lifecycle import Status

# Alert below this many available credits (LOW_CREDITS_THRESHOLD).
DEFAULT_LOW_CREDITS_THRESHOLD: Final = 5
# Entries that add credits, and so may arm the low-credits alert again.
_ADDITIONS: Final = frozenset(
    {EntryKind.GRANT, EntryKind.PURCHASE, EntryKind.DAILY_FREE, EntryKind.ADJUSTMENT}
)
# Markable at once by id (markNotificationsRead), and without ids per call.
MAX_IDS_PER_CALL: Final = 100
MARK_ALL_BATCH: Final = 500


@dataclass(frozen=True)
class NoticePolicy:
    """When users are told their credits run low, and how long notifications
    and outbox events are kept (TTL on ``expireAt``)."""

    low_credits_threshold: int = DEFAULT_LOW_CREDITS_THRESHOLD
    notifications_kept_for: timedelta = timedelta(days=30)
    events_kept_for: timedelta = timedelta(days=7)


class NoticeType(enum.StrEnum):
    GENERATION_COMPLETED = "generation.completed"
    GENERATION_FAILED = "generation.failed"
    CREDITS_LOW = "credits.low"
    CREDITS_PURCHASED = "credits.purchased"
    CREDITS_GRANTED = "credits.granted"
    # To the admin who registered a webhook endpoint that kept failing.
    WEBHOOK_DISABLED = "webhook.disabled"


@dataclass(frozen=True)
class Notice:
    """One notification to write: its type and the fields it carries besides
    ``type``, ``createdAt``, ``read`` and ``expireAt``."""

    type: NoticeType
    fields: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "read": False,
            "generationId": None,
            "generationType": None,
            "engine": None,
            "credits": None,
            "available": None,
            "threshold": None,
            **self.fields,
        }


def for_generation_end(generation_id: str, public: dict[str, Any], status: Status) -> Notice | None:
    """The owner's notice of a generation that ended, if this end is one they hear of."""
    kinds = {
        Status.COMPLETED: NoticeType.GENERATION_COMPLETED,
        Status.FAILED: NoticeType.GENERATION_FAILED,
    }
    if status not in kinds:
        return None
    return Notice(
        kinds[status],
        {
            "generationId": generation_id,
            "generationType": public.get("type"),
            "engine": public.get("engine"),
        },
    )


@dataclass(frozen=True)
class AccountNotices:
    """What an account change tells its owner, and the account as it is saved."""

    notices: tuple[Notice, ...]
    account: Account
    credits_low: bool  # the low-credits alert fired with this change


def for_account_change(before: Account, change: Change, threshold: int) -> AccountNotices:
    """Notices of credits added by a purchase or a grant, and of credits running low."""
    notices: list[Notice] = []
    for entry in change.entries:
        if entry.kind is EntryKind.PURCHASE:
            notices.append(Notice(NoticeType.CREDITS_PURCHASED, {"credits": entry.amount}))
        elif entry.kind is EntryKind.GRANT:
            notices.append(Notice(NoticeType.CREDITS_GRANTED, {"credits": entry.amount}))
    after = change.account
    alerted = before.low_credits_alerted
    added = any(entry.kind in _ADDITIONS and entry.amount > 0 for entry in change.entries)
    if alerted and added and after.available >= threshold:
        alerted = False
    fired = not alerted and after.available < threshold
    if fired:
        alerted = True
        notices.append(
            Notice(
                NoticeType.CREDITS_LOW,
                {"available": after.available, "threshold": threshold},
            )
        )
    return AccountNotices(
        notices=tuple(notices),
        account=replace(after, low_credits_alerted=alerted),
        credits_low=fired,
    )
