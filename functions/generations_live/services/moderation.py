"""Moderation use cases: admins hide or restore a generation, users report one,
admins read the queue of reported generations.

Moderation goes through the backend, never through a client deleting the feed
document: hiding a generation that is still processing cancels it in the same
transaction, so its hold is released and the analytics count it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from generations_live.adapters.generations import GenerationStore, StoreTransaction
from generations_live.domain import documents, moderation, webhooks
from generations_live.domain.documents import GenerationDocuments
from generations_live.domain.errors import NotFound, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import Status
from generations_live.domain.models import (
    ModerateGenerationRequest,
    ModerationQueueRequest,
    ReportGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.domain.webhooks import EventType
from generations_live.services.tracking import owner_of, settle_generation


def moderate_generation(
    store: GenerationStore, caller: Caller, request: ModerateGenerationRequest, now: datetime
) -> dict[str, Any]:
    """Hide or restore a generation (admins only); repeating an action changes nothing."""
    if not caller.is_admin:
        raise PermissionDenied("only admins may moderate generations")
    generation_id = request.generation_id

    def moderate(tx: StoreTransaction) -> dict[str, Any]:
        public = tx.public_generation(generation_id)
        if public is None:
            raise NotFound(
                f"no generation with id {generation_id!r}", details={"field": "generationId"}
            )
        owner_id = str(public["userId"])
        private = tx.private_generation(owner_id, generation_id) or {}
        queued = tx.queue_entry(generation_id)
        has_preview = tx.has_preview(generation_id)
        status = Status(public["status"])
        if not moderation.changes_anything(request.action, public):
            return _answer(generation_id, public.get("hidden") is True, status, changed=False)
        public_change, private_change = moderation.moderated_fields(
            request.action, private, reason=request.reason, moderator_uid=caller.uid, now=now
        )
        change = GenerationDocuments(public=public_change, private=private_change)
        if request.action is moderation.ModerationAction.HIDE and status is Status.PROCESSING:
            cancel = UpdateGenerationStatusRequest.model_validate(
                {"generationId": generation_id, "status": Status.CANCELED.value}
            )
            settle_generation(
                tx, owner_id=owner_id, public=public, report=cancel, now=now, also=change
            )
            status = Status.CANCELED
        else:
            tx.update_generation(owner_id, generation_id, change)
        if has_preview:
            tx.hide_preview(generation_id, request.action is moderation.ModerationAction.HIDE)
        if request.action is moderation.ModerationAction.HIDE:
            hidden_now = {**public, **change.public, "status": status.value}
            tx.publish(
                EventType.GENERATION_HIDDEN,
                {**webhooks.generation_data(generation_id, hidden_now), "reason": request.reason},
                uid=owner_id,
            )
        if queued is not None:
            tx.save_queue_entry(
                generation_id,
                {
                    "status": moderation.queue_status_after(request.action).value,
                    "moderatedBy": caller.uid,
                },
            )
        hidden = request.action is moderation.ModerationAction.HIDE
        return _answer(generation_id, hidden, status, changed=True)

    # The same turn as status reports: a worker's report and a hide never interleave.
    return store.run_claimed(f"finish/{generation_id}", moderate)


def _answer(generation_id: str, hidden: bool, status: Status, *, changed: bool) -> dict[str, Any]:
    return {
        "generationId": generation_id,
        "hidden": hidden,
        "status": status.value,
        "changed": changed,
    }


def report_generation(
    store: GenerationStore, caller: Caller, request: ReportGenerationRequest
) -> dict[str, Any]:
    """A user's report of someone else's generation, counted once per user."""
    generation_id = request.generation_id
    owner_id = owner_of(store, generation_id)
    if owner_id == caller.uid:
        raise PermissionDenied("you cannot report your own generation")
    if store.report_exists(generation_id, caller.uid):
        # A repeat changes nothing, so it never takes the generation's turn: one
        # user repeating a report cannot make other reporters wait.
        return {
            "generationId": generation_id,
            "counted": False,
            "reportCount": store.report_count(generation_id),
        }

    def report(tx: StoreTransaction) -> dict[str, Any]:
        earlier = tx.report(generation_id, caller.uid)
        queued = tx.queue_entry(generation_id) or {}
        count = int(queued.get("reportCount", 0))
        if earlier is not None:
            return {"generationId": generation_id, "counted": False, "reportCount": count}
        tx.create_report(generation_id, caller.uid, request.reason)
        tx.save_queue_entry(
            generation_id,
            {
                "ownerId": owner_id,
                "reportCount": count + 1,
                "lastReason": request.reason,
                "status": moderation.reopened(queued.get("status")).value,
            },
            reported=True,
        )
        return {"generationId": generation_id, "counted": True, "reportCount": count + 1}

    # Reports of one generation take turns on its queue entry.
    return store.run_claimed(f"report/{generation_id}", report)


def moderation_queue(
    store: GenerationStore, caller: Caller, request: ModerationQueueRequest
) -> dict[str, Any]:
    """The open reports, most reported first, each with its generation's public fields."""
    if not caller.is_admin:
        raise PermissionDenied("only admins may read the moderation queue")
    entries = store.moderation_queue(moderation.QueueStatus.OPEN.value, request.limit)
    generations = store.public_generations([generation_id for generation_id, _ in entries])
    return {
        "entries": [
            {
                "generationId": generation_id,
                "reportCount": int(fields.get("reportCount", 0)),
                "lastReason": fields.get("lastReason"),
                "lastReportedAt": fields.get("lastReportedAt"),
                "generation": documents.public_view(generation_id, generations[generation_id])
                if generation_id in generations
                else None,
            }
            for generation_id, fields in entries
        ]
    }
