"""The callable functions clients use. Names are the ones clients call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebase_functions import https_fn

from generations_live import tracking
from generations_live.api.edge import callable_handler, refuse_unreadable_bodies
from generations_live.config import tracking_settings
from generations_live.identity import Caller
from generations_live.models import (
    GetLiveGenerationsRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.store import GenerationStore, default_client


def _store() -> GenerationStore:
    return GenerationStore(default_client())


@callable_handler(TrackGenerationRequest)
def _track_generation(caller: Caller, request: TrackGenerationRequest) -> dict[str, Any]:
    return tracking.track_generation(
        _store(), caller, request, tracking_settings(), datetime.now(UTC)
    )


@callable_handler(UpdateGenerationStatusRequest)
def _update_generation_status(
    caller: Caller, request: UpdateGenerationStatusRequest
) -> dict[str, Any]:
    return tracking.update_generation_status(_store(), caller, request, datetime.now(UTC))


@callable_handler(GetLiveGenerationsRequest)
def _get_live_generations(caller: Caller, request: GetLiveGenerationsRequest) -> dict[str, Any]:
    del caller  # any signed-in user may read the public feed
    return {"generations": tracking.live_generations(_store(), request)}


@refuse_unreadable_bodies
@https_fn.on_call()
def trackGeneration(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """Record a generation a user has just started."""
    return _track_generation(request)


@refuse_unreadable_bodies
@https_fn.on_call()
def updateGenerationStatus(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """Report a generation's outcome (workers, admins) or cancel it (its owner)."""
    return _update_generation_status(request)


@refuse_unreadable_bodies
@https_fn.on_call()
def getLiveGenerations(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """The newest public generations, as the realtime listener sees them."""
    return _get_live_generations(request)
