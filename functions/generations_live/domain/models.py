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

from generations_live.domain.bounds import (
    MAX_BATCH_SIZE,
    MAX_OUTPUT_TEXT_BYTES,
    MAX_PREVIEW_BASE64_LENGTH,
)
from generations_live.domain.credits import Mode
from generations_live.domain.lifecycle import GenerationType, Status, Visibility
from generations_live.domain.moderation import ModerationAction
from generations_live.domain.webhooks import SUBSCRIBABLE, EventType
from generations_live.domain.windows import MAX_WINDOW_DAYS

# Stored text is bounded in characters and in UTF-8 bytes: a character may
# take four bytes, and what a listener downloads is bytes.
MAX_PROMPT_LENGTH = 4000
MAX_PROMPT_BYTES = 12_000  # a whole prompt of three-byte characters (CJK) fits
MAX_LIVE_LIMIT = 50
MAX_ERROR_MESSAGE_LENGTH = 2000
MAX_ERROR_MESSAGE_BYTES = 6000
MAX_REASON_LENGTH = 200
MAX_REASON_BYTES = 800
# A week: longer than any generation a worker would still report on.
MAX_DURATION_MS = 7 * 24 * 60 * 60 * 1000
# No single grant or purchase moves more than this: a typo must not mint millions.
MAX_GRANT = 1_000_000
# An output reference: long enough for a signed or deeply nested URL, short
# enough that eight of them stay a small document.
MAX_OUTPUT_URI_LENGTH = 2048
MAX_OUTPUT_SIDE = 32_768
# The largest object a worker may report (a long 4K video), in bytes.
MAX_OUTPUT_BYTES = 1 << 40


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


OutputUri = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_OUTPUT_URI_LENGTH),
    AfterValidator(utf8_at_most(MAX_OUTPUT_URI_LENGTH)),
]
OutputText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_OUTPUT_TEXT_BYTES),
    AfterValidator(utf8_at_most(MAX_OUTPUT_TEXT_BYTES)),
]
ContentType = Annotated[str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9][a-z0-9.+-]{0,63}$")]
PreviewData = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PREVIEW_BASE64_LENGTH)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OutputReport(_Request):
    """One output of a completed generation: a reference (``uri``), or inline ``text``."""

    uri: OutputUri | None = None
    text: OutputText | None = None
    content_type: ContentType = Field(alias="contentType")
    bytes: int | None = Field(default=None, ge=0, le=MAX_OUTPUT_BYTES)
    width: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_SIDE)
    height: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_SIDE)
    duration_ms: int | None = Field(default=None, alias="durationMs", ge=0, le=MAX_DURATION_MS)

    @model_validator(mode="after")
    def _uri_or_text(self) -> OutputReport:
        if (self.uri is None) is (self.text is None):
            raise ValueError("an output has exactly one of uri and text")
        return self


class TrackGenerationRequest(_Request):
    type: TypeField
    prompt: Prompt
    engine: EngineSlug | None = None
    batch_size: int = Field(default=1, alias="batchSize", ge=1, le=MAX_BATCH_SIZE)
    request_id: RequestId | None = Field(default=None, alias="requestId")
    visibility: VisibilityField = Visibility.PUBLIC
    mode: ModeField = Mode.CREATE
    # The caller's own generation this one repeats (the dashboard's "Regenerate").
    regenerated_from: GenerationId | None = Field(default=None, alias="regeneratedFrom")


class GenerationErrorReport(_Request):
    code: ErrorCode
    message: ErrorMessage = ""


class UpdateGenerationStatusRequest(_Request):
    generation_id: GenerationId = Field(alias="generationId")
    status: StatusField
    error: GenerationErrorReport | None = None
    duration_ms: int | None = Field(default=None, alias="durationMs", ge=0, le=MAX_DURATION_MS)
    outputs: list[OutputReport] | None = Field(
        default=None, min_length=1, max_length=MAX_BATCH_SIZE
    )
    preview: PreviewData | None = None

    @model_validator(mode="after")
    def _fields_match_status(self) -> UpdateGenerationStatusRequest:
        if self.error is not None and self.status is not Status.FAILED:
            raise ValueError("error is only allowed with status 'failed'")
        if (self.outputs is not None or self.preview is not None) and (
            self.status is not Status.COMPLETED
        ):
            raise ValueError("outputs and preview are only allowed with status 'completed'")
        if self.preview is not None and self.outputs is None:
            raise ValueError("a preview comes with the outputs it shows")
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


WebhookEventField = Annotated[EventType, Strict(False)]
EndpointId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,40}$")]
NotificationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,40}$")]


class RegisterWebhookEndpointRequest(_Request):
    url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_OUTPUT_URI_LENGTH)]
    events: list[WebhookEventField] = Field(min_length=1, max_length=len(SUBSCRIBABLE))

    @model_validator(mode="after")
    def _subscribable(self) -> RegisterWebhookEndpointRequest:
        unknown = [event.value for event in self.events if event not in SUBSCRIBABLE]
        if unknown:
            raise ValueError(f"events cannot subscribe to {unknown}")
        return self


class ListWebhookEndpointsRequest(_Request):
    pass


class WebhookEndpointRequest(_Request):
    endpoint_id: EndpointId = Field(alias="endpointId")


class MarkNotificationsReadRequest(_Request):
    # None: every unread notification of the caller (a bounded batch per call).
    ids: list[NotificationId] | None = Field(default=None, min_length=1, max_length=100)


class GetGenerationOutputsRequest(_Request):
    generation_id: GenerationId = Field(alias="generationId")
