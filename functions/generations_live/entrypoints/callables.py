"""The callable functions clients use. Names are the ones clients call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebase_admin import auth
from firebase_functions import https_fn

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore, default_client
from generations_live.adapters.rollups import RollupStore
from generations_live.domain.errors import NotFound, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.models import (
    AnalyticsRequest,
    GetLiveGenerationsRequest,
    GetUserUsageRequest,
    GrantCreditsRequest,
    QuoteGenerationRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.entrypoints.edge import callable_handler, refuse_unreadable_bodies
from generations_live.services import billing, rollups, tracking


def _store() -> GenerationStore:
    return GenerationStore(default_client())


def _now() -> datetime:
    return datetime.now(UTC)


@callable_handler(TrackGenerationRequest)
def _track_generation(caller: Caller, request: TrackGenerationRequest) -> dict[str, Any]:
    return tracking.track_generation(_store(), caller, request, settings(), _now())


@callable_handler(UpdateGenerationStatusRequest)
def _update_generation_status(
    caller: Caller, request: UpdateGenerationStatusRequest
) -> dict[str, Any]:
    return tracking.update_generation_status(_store(), caller, request, _now())


@callable_handler(GetLiveGenerationsRequest)
def _get_live_generations(caller: Caller, request: GetLiveGenerationsRequest) -> dict[str, Any]:
    del caller  # any signed-in user may read the public feed
    return {"generations": tracking.live_generations(_store(), request)}


@callable_handler(QuoteGenerationRequest)
def _quote_generation(caller: Caller, request: QuoteGenerationRequest) -> dict[str, Any]:
    return billing.quote_generation(_store(), caller, request, settings(), _now())


@callable_handler(GetUserUsageRequest)
def _get_user_usage(caller: Caller, request: GetUserUsageRequest) -> dict[str, Any]:
    return billing.user_usage(_store(), caller, request, _now())


@callable_handler(GrantCreditsRequest)
def _grant_credits(caller: Caller, request: GrantCreditsRequest) -> dict[str, Any]:
    if caller.is_admin:
        _require_user(request.user_id)
    return billing.grant_credits(_store(), caller, request)


@callable_handler(AnalyticsRequest)
def _get_generation_analytics(caller: Caller, request: AnalyticsRequest) -> dict[str, Any]:
    del caller  # any signed-in user may see the platform's generation analytics
    return rollups.window_answer(
        RollupStore(default_client()), rollups.GENERATION_ROLLUP, request.days
    )


@callable_handler(AnalyticsRequest)
def _get_billing_analytics(caller: Caller, request: AnalyticsRequest) -> dict[str, Any]:
    if not caller.is_admin:
        raise PermissionDenied("only admins may see billing analytics")
    return rollups.window_answer(
        RollupStore(default_client()), rollups.BILLING_ROLLUP, request.days
    )


def _require_user(uid: str) -> None:
    """Grants go to existing accounts only: a mistyped uid must not mint credits."""
    try:
        auth.get_user(uid)
    except auth.UserNotFoundError as missing:
        raise NotFound(f"no user with id {uid!r}", details={"field": "userId"}) from missing


@refuse_unreadable_bodies
@https_fn.on_call()
def trackGeneration(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """Record a generation a user has just started and reserve its credits."""
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


@refuse_unreadable_bodies
@https_fn.on_call()
def quoteGeneration(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """What a generation would cost the caller; writes nothing."""
    return _quote_generation(request)


@refuse_unreadable_bodies
@https_fn.on_call()
def getUserUsage(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """The caller's own usage over the last ``days`` days, today, this week and month."""
    return _get_user_usage(request)


@refuse_unreadable_bodies
@https_fn.on_call()
def grantCredits(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """Admins grant credits to a user, once per ``grantId``."""
    return _grant_credits(request)


@refuse_unreadable_bodies
@https_fn.on_call()
def getGenerationAnalytics(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """Dashboard numbers for the last ``days`` days, from one rollup document."""
    return _get_generation_analytics(request)


@refuse_unreadable_bodies
@https_fn.on_call()
def getBillingAnalytics(request: https_fn.CallableRequest[Any]) -> Any:  # noqa: N802
    """The credit economy over the last ``days`` days (admins only)."""
    return _get_billing_analytics(request)
