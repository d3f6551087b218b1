"""Generation types, statuses and the status lifecycle. Pure rules: no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from generations_live.domain.errors import FailedPrecondition, PermissionDenied
from generations_live.domain.identity import Caller


class GenerationType(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    TEXT = "text"


class Status(enum.StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self is not Status.PROCESSING


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True)
class TransitionPlan:
    """What to do with a status update: write the new status, or nothing."""

    target: Status
    changes_state: bool


def authorize_report(*, caller: Caller, owner_id: str, requested: Status) -> None:
    """Refuse a caller who may not report ``requested`` on this owner's generation.

    Depends only on who owns the generation, which never changes: checked
    before any lock or read on the caller's behalf, and again inside the
    transaction.
    """
    if caller.is_worker or caller.is_admin:
        return
    if caller.uid != owner_id:
        raise PermissionDenied("only the owner, a worker or an admin may update this generation")
    if requested is not Status.CANCELED:
        raise PermissionDenied("the owner may only cancel a generation")


def plan_transition(
    *, current: Status, requested: Status, caller: Caller, owner_id: str
) -> TransitionPlan:
    """Decide a status update, enforcing who may do it and which moves are legal.

    Workers and admins may make any legal move; the owner may only cancel.
    Repeating the terminal status a generation already has is an idempotent
    success, so a worker that reports twice is harmless.
    """
    authorize_report(caller=caller, owner_id=owner_id, requested=requested)
    if current is requested and current.is_terminal:
        return TransitionPlan(target=requested, changes_state=False)
    if current is Status.PROCESSING and requested.is_terminal:
        return TransitionPlan(target=requested, changes_state=True)
    raise FailedPrecondition(
        f"cannot change a {current.value} generation to {requested.value}",
        details={"currentStatus": current.value, "requestedStatus": requested.value},
    )
