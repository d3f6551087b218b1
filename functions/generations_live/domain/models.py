"""Pydantic shapes of the callable requests.

Requests are validated strictly (no coercion of "3" to 3, no unknown fields)
so a client bug surfaces as ``invalid-argument`` naming the field instead of
being silently stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from generations_live.domain.credits import Mode
from generations_live.domain.lifecycle import GenerationType, Status, Visibility
from generations_live.domain.moderation import ModerationAction
from generations_live.domain.windows import MAX_WINDOW_DAYS

# Stored text is bounded in characters and in UTF-8 bytes: a character may
# take four bytes, and what a listener downloads is bytes.
MAX_PROMPT_LENGTH = 4000
MAX_PROMPT_BYTES = 12_000  # a whole prompt of three-byte characters (CJK) fits
MAX_BATCH_SIZE = 8
MAX_LIVE_LIMIT = 50
MAX_ERROR_MESSAGE_LENGTH = 2000
MAX_ERROR_MESSAGE_BYTES = 6000
MAX_REASON_LENGTH = 200
MAX_REASON_BYTES = 800
# A week: longer than any generation a worker would still report on.
MAX_DURATION_MS = 7 * 24 * 60 * 60 * 1000
# No single grant or purchase moves more than this: a typo must not mint millions.
MAX_GRANT = 1_000_000


def utf8_at_most(max_bytes: int) -> Callable[[str], str]:
    """A validator: the text encodes as UTF-8 (no lone surrogates) in at most ``max_bytes``."""

    def check(text: str) -> str:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as unencodable:
            raise ValueError("must be text that encodes as UTF-8") from unencodable
        if size > max_bytes:
            raise ValueError(f"must be at most {max_bytes} bytes of UTF-8, got {size}")
        return text

    return check


def _trimmed_prompt(prompt: str) -> str:
    """The prompt as stored: trimmed, 1 to MAX_PROMPT_LENGTH characters."""
    trimmed = prompt.strip()
    if not trimmed:
        raise ValueError("prompt must not be empty")
    if len(trimmed) > MAX_PROMPT_LENGTH:
        raise ValueError(
            f"prompt must be at most {MAX_PROMPT_LENGTH} characters, got {len(trimmed)}"
        )
    return trimmed


Prompt = Annotated[
    str, AfterValidator(_trimmed_prompt), AfterValidator(utf8_at_most(MAX_PROMPT_BYTES))
]
ErrorMessage = Annotated[
    str,
    StringConstraints(max_length=MAX_ERROR_MESSAGE_LENGTH),
    AfterValidator(utf8_at_most(MAX_ERROR_MESSAGE_BYTES)),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON_LENGTH),
    AfterValidator(utf8_at_most(MAX_REASON_BYTES)),
]
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
ActionField = Annotated[ModerationAction, Strict(False)]
# Firebase Auth uids are at most 128 characters; a slash would address another path.
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,128}$")]
ErrorCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TrackGenerationRequest(_Request):
    type: TypeField
    prompt: Prompt
    engine: EngineSlug | None = None
    batch_size: int = Field(default=1, alias="batchSize", ge=1, le=MAX_BATCH_SIZE)
    request_id: RequestId | None = Field(default=None, alias="requestId")
    visibility: VisibilityField = Visibility.PUBLIC
    mode: ModeField = Mode.CREATE


class GenerationErrorReport(_Request):
    code: ErrorCode
    message: ErrorMessage = ""


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
    reason: Reason
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


class ModerateGenerationRequest(_Request):
    generation_id: GenerationId = Field(alias="generationId")
    action: ActionField
    reason: Reason


class ReportGenerationRequest(_Request):
    generation_id: GenerationId = Field(alias="generationId")
    reason: Reason


class ModerationQueueRequest(_Request):
    limit: int = Field(default=20, ge=1, le=MAX_LIVE_LIMIT)


class DeleteAccountDataRequest(_Request):
    # None: the caller's own data; another user's is for admins only.
    user_id: UserId | None = Field(default=None, alias="userId")
