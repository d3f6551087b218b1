"""Moderation: what hiding or restoring a generation changes. Pure rules.

Hiding takes the prompt and what the generation produced (its preview's
placeholder, its text excerpt) out of the public document and marks it
``hidden``, and hides its preview image from everyone but its owner and the
admins; the owner's record keeps all of it and the moderator's reason.
Restoring puts a public generation's content back.
Settling a processing generation that is hidden is the tracking rules' job:
it is canceled like any other, so its hold is released.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from generations_live.domain.lifecycle import Visibility


class ModerationAction(enum.StrEnum):
    HIDE = "hide"
    RESTORE = "restore"


class QueueStatus(enum.StrEnum):
    """Where a reported generation stands in the admins' queue."""

    OPEN = "open"
    HIDDEN = "hidden"
    RESTORED = "restored"


# What a viewer sees of a generation's content: hiding takes it out of the
# public document, restoring a public generation copies it back from the owner's.
SHOWN_CONTENT = ("prompt", "preview", "outputCount", "textExcerpt")


def changes_anything(action: ModerationAction, public: dict[str, Any]) -> bool:
    """Whether the action moves the generation (hiding a hidden one does not)."""
    return (public.get("hidden") is True) is not (action is ModerationAction.HIDE)


def moderated_fields(
    action: ModerationAction,
    private: dict[str, Any],
    *,
    reason: str,
    moderator_uid: str,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The public and private field changes of a moderation action."""
    hidden = action is ModerationAction.HIDE
    shown = not hidden and (
        private.get("visibility", Visibility.PUBLIC.value) == Visibility.PUBLIC.value
    )
    public = {
        "hidden": hidden,
        **{name: private.get(name) if shown else None for name in SHOWN_CONTENT},
    }
    record = {"hidden": hidden, "reason": reason, "by": moderator_uid, "at": now}
    return public, {"hidden": hidden, "moderation": record}


def queue_status_after(action: ModerationAction) -> QueueStatus:
    return QueueStatus.HIDDEN if action is ModerationAction.HIDE else QueueStatus.RESTORED


def reopened(current: str | None) -> QueueStatus:
    """A new report leaves a hidden generation hidden and reopens any other."""
    return QueueStatus.HIDDEN if current == QueueStatus.HIDDEN.value else QueueStatus.OPEN
