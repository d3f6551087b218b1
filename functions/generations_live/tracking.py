"""The tracking use cases: start a generation, report its outcome, read the feed.

Each takes its store, caller and clock as arguments, so tests drive them
against the emulator with any time they like.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from generations_live import documents
from generations_live.config import TrackingSettings
from generations_live.generation import plan_transition
from generations_live.identity import Caller
from generations_live.models import (
    GetLiveGenerationsRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.store import GenerationStore, LiveQuery, StoredGeneration


def track_generation(
    store: GenerationStore,
    caller: Caller,
    request: TrackGenerationRequest,
    settings: TrackingSettings,
    now: datetime,
) -> dict[str, Any]:
    """Record a generation that has just started; idempotent per ``requestId``."""
    if request.request_id is not None:
        generation_id = documents.generation_id_for_request(caller.uid, request.request_id)
    else:
        generation_id = store.new_generation_id()
    fields = documents.new_generation(caller, request, settings, now)
    outcome = store.start_generation(caller.uid, generation_id, fields)
    # A retry answers with the generation's current status, which a worker may
    # already have moved on.
    return {"generationId": outcome.generation_id, "status": outcome.status.value}


def update_generation_status(
    store: GenerationStore, caller: Caller, request: UpdateGenerationStatusRequest, now: datetime
) -> dict[str, Any]:
    """Move a generation to a terminal status, or confirm it is already there."""

    def decide(stored: StoredGeneration) -> documents.GenerationDocuments | None:
        plan = plan_transition(
            current=stored.status, requested=request.status, caller=caller, owner_id=stored.owner_id
        )
        if not plan.changes_state:
            return None
        return documents.terminal_update(request, stored.created_at, now)

    store.update_generation(request.generation_id, decide)
    return {"generationId": request.generation_id, "status": request.status.value}


def live_generations(
    store: GenerationStore, request: GetLiveGenerationsRequest
) -> list[dict[str, Any]]:
    """The newest public generations with exactly the fields a listener sees."""
    query = LiveQuery(
        limit=request.limit, type=request.type, engine=request.engine, status=request.status
    )
    return [documents.public_view(gid, fields) for gid, fields in store.live_generations(query)]
