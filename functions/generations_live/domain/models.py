"""Pydantic shapes of the callable requests.

Requests are validated strictly (no coercion of "3" to 3, no unknown fields)
so a client bug surfaces as ``invalid-argument`` naming the field instead of
being silently stored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
    model_validator,
)

from generations_live.domain.credits import Mode
from generations_live.domain.lifecycle import GenerationType, Status, Visibility
from generations_live.domain.windows import MAX_WINDOW_DAYS

MAX_PROMPT_LENGTH = 4000
MAX_BATCH_SIZE = 8
MAX_LIVE_LIMIT = 50
MAX_ERROR_MESSAGE_LENGTH = 2000
# A week: longer than any generation a worker would still report on.
MAX_DURATION_MS = 7 * 24 * 60 * 60 * 1000
# No single grant or purchase moves more than this: a typo must not mint millions.
MAX_GRANT = 1_000_000

EngineSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")]
RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
# Document ids we hand out are URL-safe; anything else (slashes, dots) could
# address another path, so it is refused before it reaches Firestore.
GenerationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
# JSON carries enums as strings, which strict mode would refuse; everything
# else stays strict.
TypeField = Annotated[GenerationType, Strict(False)]
StatusField = Annotated[Status, Strict(False)]
VisibilityField = Annotated[Visibility, Strict(False)]
ModeField = Annotated[Mode, Strict(False)]
# Firebase Auth uids are at most 128 characters; a slash would address another path.
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,128}$")]
ErrorCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TrackGenerationRequest(_Request):
    type: TypeField
    prompt: str
    engine: EngineSlug | None = None
    batch_size: int = Field(default=1, alias="batchSize", ge=1, le=MAX_BATCH_SIZE)
    request_id: RequestId | None = Field(default=None, alias="requestId")
    visibility: VisibilityField = Visibility.PUBLIC
    mode: ModeField = Mode.CREATE

    @field_validator("prompt")
    @classmethod
    def _prompt_length(cls, prompt: str) -> str:
        length = len(prompt.strip())
        if length < 1:
            raise ValueError("prompt must not be empty")
        if length > MAX_PROMPT_LENGTH:
            raise ValueError(f"prompt must be at most {MAX_PROMPT_LENGTH} characters, got {length}")
        return prompt


class GenerationErrorReport(_Request):
    code: ErrorCode
    message: str = Field(default="", max_length=MAX_ERROR_MESSAGE_LENGTH)


class UpdateGenerationStatusRequest(_Request):
    generation_id: GenerationId = Field(alias="generationId")
    status: StatusField
    error: GenerationErrorReport | None = None
    duration_ms: int | None = Field(default=None, alias="durationMs", ge=0, le=MAX_DURATION_MS)

    @model_validator(mode="after")
    def _error_only_on_failure(self) -> UpdateGenerationStatusRequest:
        if self.error is not None and self.status is not Status.FAILED:
            raise ValueError("error is only allowed with status 'failed'")
        return self


class GetLiveGenerationsRequest(_Request):
    limit: int = Field(default=MAX_LIVE_LIMIT, ge=1, le=MAX_LIVE_LIMIT)
    type: TypeField | None = None
    engine: EngineSlug | None = None
    status: StatusField | None = None


class QuoteGenerationRequest(_Request):
    type: TypeField
    mode: ModeField = Mode.CREATE
    batch_size: int = Field(default=1, alias="batchSize", ge=1, le=MAX_BATCH_SIZE)


class GetUserUsageRequest(_Request):
    days: int = Field(default=30, ge=1, le=MAX_WINDOW_DAYS)


class GrantCreditsRequest(_Request):
    user_id: UserId = Field(alias="userId")
    amount: int = Field(ge=1, le=MAX_GRANT)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    grant_id: EventId = Field(alias="grantId")


class PurchaseData(BaseModel):
    """The ``data`` of a ``credits.purchased`` payment event."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    user_id: UserId = Field(alias="userId")
    credits: int = Field(ge=1, le=MAX_GRANT)


class PaymentEvent(BaseModel):
    """A payment provider's webhook event; unknown fields are the provider's business."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    id: EventId
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    data: dict[str, object]


class AnalyticsRequest(_Request):
    days: int = Field(default=7, ge=1, le=MAX_WINDOW_DAYS)
