"""The public feed document and the owner's private record. Pure rules.

The privacy boundary lives here: ``PUBLIC_FIELDS`` is the whole contract of
``live_generations``; anything not listed (email, request id, error message,
cost) goes only to ``users/{uid}/generations``.
Timestamps that Firestore stamps on commit (``createdAt``, ``updatedAt``,
``completedAt``) are added by the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import Status, Visibility

if TYPE_CHECKING:
    # For annotations only: the request models load pydantic, which reading a
    # document's shape does not need.
    from generations_live.domain.models import (
        TrackGenerationRequest,
        UpdateGenerationStatusRequest,
    )

PUBLIC_FIELDS: tuple[str, ...] = (
    "userId",
    "userName",
    "type",
    "engine",
    "prompt",
    "status",
    "batchSize",
    "createdAt",
    "updatedAt",
    "completedAt",
    "durationMs",
    "errorCode",
    "hidden",
    "expireAt",
    # What it produced, for a public generation: the preview's placeholder and
    # size (the image itself is in its own document), the number of outputs,
    # and the start of a text output. Null while processing and when private.
    "preview",
    "outputCount",
    "textExcerpt",
)
PRIVATE_ONLY_FIELDS: tuple[str, ...] = (
    "userEmail",
    "requestId",
    "visibility",
    "errorMessage",
    "mode",
    "cost",
    "priceVersion",
    "usageDay",
    "regeneratedFrom",
)
RETENTION_FIELD = "expireAt"
UNSPECIFIED_ERROR_CODE = "unknown"


@dataclass(frozen=True)
class GenerationDocuments:
    """Field values of both halves of one generation, written together."""

    public: dict[str, Any]
    private: dict[str, Any]


def generation_id_for_request(uid: str, request_id: str) -> str:
    """A deterministic generation id, so a retried request finds its first attempt.

    Scoped by user: two users may pick the same request id independently.
    """
    digest = hashlib.sha256(f"{uid}\x00{request_id}".encode()).hexdigest()
    return f"r{digest[:31]}"


@dataclass(frozen=True)
class Pricing:
    """What a generation was priced at, recorded so refunds and audits are exact."""

    cost: int
    price_version: str


def new_generation(
    caller: Caller,
    request: TrackGenerationRequest,
    *,
    engine: str,
    pricing: Pricing,
    now: datetime,
    retention: timedelta,
) -> GenerationDocuments:
    """Both documents of a generation that has just started."""
    public: dict[str, Any] = {
        "userId": caller.uid,
        "userName": caller.display_name,
        "type": request.type.value,
        "engine": engine,
        "prompt": request.prompt if request.visibility is Visibility.PUBLIC else None,
        "status": Status.PROCESSING.value,
        "batchSize": request.batch_size,
        "completedAt": None,
        "durationMs": None,
        "errorCode": None,
        "hidden": False,
        RETENTION_FIELD: now + retention,
        "preview": None,
        "outputCount": None,
        "textExcerpt": None,
    }
    private = {
        **public,
        "prompt": request.prompt,
        "userEmail": caller.email,
        "requestId": request.request_id,
        "visibility": request.visibility.value,
        "errorMessage": None,
        "mode": request.mode.value,
        "cost": pricing.cost,
        "priceVersion": pricing.price_version,
        # Usage is counted on the day the generation started, by the handler's clock.
        "usageDay": now.date().isoformat(),
        "regeneratedFrom": request.regenerated_from,
    }
    return GenerationDocuments(public=public, private=private)


def terminal_update(
    request: UpdateGenerationStatusRequest, created_at: datetime | None, now: datetime
) -> GenerationDocuments:
    """Field changes that move a processing generation to its terminal status.

    ``durationMs`` is the worker's figure when it reports one, otherwise the
    time since the generation was created.
    """
    duration_ms = request.duration_ms
    if duration_ms is None and created_at is not None:
        duration_ms = max(0, int((now - created_at).total_seconds() * 1000))
    error_code: str | None = None
    error_message: str | None = None
    if request.status is Status.FAILED:
        error_code = request.error.code if request.error else UNSPECIFIED_ERROR_CODE
        error_message = request.error.message if request.error else None
    public = {"status": request.status.value, "durationMs": duration_ms, "errorCode": error_code}
    return GenerationDocuments(public=public, private={**public, "errorMessage": error_message})


def public_view(generation_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Exactly the public fields, plus the id, as a listener would see them."""
    return {"id": generation_id, **{name: fields.get(name) for name in PUBLIC_FIELDS}}
