"""The callable functions clients use, one function each, named as clients call them.

Each body is a use case's call: permission checks live in the use cases. The
use cases, the Firestore client and the request models load on a function's
first call, not when a deploy or a new instance imports this module.
"""
# ruff: noqa: N802, PLC0415 - camelCase is the callable protocol's name; imports are deferred

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from generations_live.domain.bounds import MAX_STATUS_REPORT_BODY_BYTES
from generations_live.entrypoints.edge import (
    accepts_bodies_up_to,
    callable_function,
    single_use_app_check,
)

if TYPE_CHECKING:
    from generations_live.adapters.generations import GenerationStore
    from generations_live.adapters.rollups import RollupStore
    from generations_live.adapters.webhooks import WebhookStore
    from generations_live.domain.identity import Caller
    from generations_live.domain.models import (
        AnalyticsRequest,
        DeleteAccountDataRequest,
        GetGenerationOutputsRequest,
        GetLiveGenerationsRequest,
        GetUserUsageRequest,
        GrantCreditsRequest,
        ListWebhookEndpointsRequest,
        MarkNotificationsReadRequest,
        ModerateGenerationRequest,
        ModerationQueueRequest,
        QuoteGenerationRequest,
        RegisterWebhookEndpointRequest,
        ReportGenerationRequest,
        TrackGenerationRequest,
        UpdateGenerationStatusRequest,
        WebhookEndpointRequest,
    )


def _generations() -> GenerationStore:
    from generations_live.adapters.config import notice_policy
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.generations import GenerationStore

    return GenerationStore(default_client(), notices=notice_policy())


def _webhooks() -> WebhookStore:
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.webhooks import WebhookStore

    return WebhookStore(default_client())


def _rollups() -> RollupStore:
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.rollups import RollupStore

    return RollupStore(default_client())


def _now() -> datetime:
    return datetime.now(UTC)


@callable_function
@single_use_app_check
def trackGeneration(caller: Caller, request: TrackGenerationRequest) -> dict[str, Any]:
    """Record a generation a user has just started and reserve its credits."""
    from generations_live.adapters.config import settings
    from generations_live.services import tracking

    return tracking.track_generation(_generations(), caller, request, settings(), _now())


@callable_function
@accepts_bodies_up_to(MAX_STATUS_REPORT_BODY_BYTES)
def updateGenerationStatus(
    caller: Caller, request: UpdateGenerationStatusRequest
) -> dict[str, Any]:
    """Report a generation's outcome and outputs (workers, admins) or cancel it (its owner)."""
    from generations_live.adapters.config import settings
    from generations_live.services import tracking

    return tracking.update_generation_status(
        _generations(), caller, request, _now(), output_policy=settings().outputs
    )


@callable_function
def getGenerationOutputs(caller: Caller, request: GetGenerationOutputsRequest) -> dict[str, Any]:
    """What a generation produced, for those who may see it, gs:// objects as signed URLs."""
    from generations_live.adapters import output_urls
    from generations_live.adapters.config import settings
    from generations_live.services import outputs

    ttl = settings().output_url_ttl
    now = _now()

    def sign(bucket: str, object_name: str) -> str:
        return output_urls.sign_download_url(bucket, object_name, ttl=ttl, now=now)

    return outputs.generation_outputs(_generations(), caller, request, sign=sign, ttl=ttl, now=now)


@callable_function
def getLiveGenerations(caller: Caller, request: GetLiveGenerationsRequest) -> dict[str, Any]:
    """The newest public generations, as the realtime listener sees them."""
    from generations_live.services import tracking

    del caller  # any signed-in user may read the public feed
    return {"generations": tracking.live_generations(_generations(), request)}


@callable_function
def quoteGeneration(caller: Caller, request: QuoteGenerationRequest) -> dict[str, Any]:
    """What a generation would cost the caller; writes nothing."""
    from generations_live.adapters.config import settings
    from generations_live.services import billing

    return billing.quote_generation(_generations(), caller, request, settings(), _now())


@callable_function
def getUserUsage(caller: Caller, request: GetUserUsageRequest) -> dict[str, Any]:
    """The caller's own usage over the last ``days`` days, today, this week and month."""
    from generations_live.services import billing

    return billing.user_usage(_generations(), caller, request, _now())


@callable_function
def grantCredits(caller: Caller, request: GrantCreditsRequest) -> dict[str, Any]:
    """Admins grant credits to a user, once per ``grantId``."""
    from generations_live.adapters import accounts
    from generations_live.services import billing

    return billing.grant_credits(_generations(), caller, request, accounts.user_exists)


@callable_function
def getGenerationAnalytics(caller: Caller, request: AnalyticsRequest) -> dict[str, Any]:
    """Dashboard numbers for the last ``days`` days, from one rollup document."""
    from generations_live.services import rollups

    return rollups.answer_generation_analytics(_rollups(), caller, request.days)


@callable_function
def getBillingAnalytics(caller: Caller, request: AnalyticsRequest) -> dict[str, Any]:
    """The credit economy over the last ``days`` days (admins only)."""
    from generations_live.services import rollups

    return rollups.answer_billing_analytics(_rollups(), caller, request.days)


@callable_function
def moderateGeneration(caller: Caller, request: ModerateGenerationRequest) -> dict[str, Any]:
    """Admins hide a generation from the feed (canceling it if it still runs) or restore it."""
    from generations_live.services import moderation

    return moderation.moderate_generation(_generations(), caller, request, _now())


@callable_function
def reportGeneration(caller: Caller, request: ReportGenerationRequest) -> dict[str, Any]:
    """A user reports someone else's generation to the admins, once."""
    from generations_live.services import moderation

    return moderation.report_generation(_generations(), caller, request)


@callable_function
def getModerationQueue(caller: Caller, request: ModerationQueueRequest) -> dict[str, Any]:
    """Admins read the reported generations still open, most reported first."""
    from generations_live.services import moderation

    return moderation.moderation_queue(_generations(), caller, request)


@callable_function
def deleteAccountData(caller: Caller, request: DeleteAccountDataRequest) -> dict[str, Any]:
    """Erase a user's data: the caller's own, or (admins) any user's ``userId``.

    Does a bounded amount of work per call and answers ``done: false`` until
    the deletion is finished: the client calls again. The Auth account stays.
    """
    from generations_live.adapters.deletion import AccountDeletionStore
    from generations_live.adapters.feed_snapshots import FeedSnapshotStore
    from generations_live.adapters.firestore import default_client
    from generations_live.services import deletion

    store = AccountDeletionStore(default_client())
    feed = FeedSnapshotStore(default_client())
    return deletion.delete_account_data(store, caller, request, _now(), feed=feed)


@callable_function
def markNotificationsRead(caller: Caller, request: MarkNotificationsReadRequest) -> dict[str, Any]:
    """Mark the caller's notifications read: these ids, or every unread one (in batches)."""
    from generations_live.services import notifications

    return notifications.mark_read(_generations(), caller, request)


@callable_function
def registerWebhookEndpoint(
    caller: Caller, request: RegisterWebhookEndpointRequest
) -> dict[str, Any]:
    """Admins register an endpoint for events; its signing secret is answered only here."""
    from generations_live.adapters.config import delivery_config
    from generations_live.services import webhooks

    return webhooks.register_endpoint(_webhooks(), caller, request, delivery_config())


@callable_function
def listWebhookEndpoints(caller: Caller, request: ListWebhookEndpointsRequest) -> dict[str, Any]:
    """Admins list the endpoints (never their secrets) and their latest attempts."""
    from generations_live.services import webhooks

    del request  # nothing to ask
    return webhooks.list_endpoints(_webhooks(), caller)


@callable_function
def disableWebhookEndpoint(caller: Caller, request: WebhookEndpointRequest) -> dict[str, Any]:
    """Admins stop deliveries to an endpoint."""
    from generations_live.services import webhooks

    return webhooks.disable_endpoint(_webhooks(), caller, request, _now())


@callable_function
def rotateWebhookSecret(caller: Caller, request: WebhookEndpointRequest) -> dict[str, Any]:
    """Admins get a new signing secret; the old one keeps signing for a day."""
    from generations_live.services import webhooks

    return webhooks.rotate_secret(_webhooks(), caller, request, _now())
