"""What a generation produced: the worker's output references, checked, and the
fields they add to the feed, the history and the outputs record. Pure rules.

An output is a reference, never the bytes: a ``gs://`` object under the
generation's own prefix of the project's bucket, an ``https`` URL on a host the
deployment allows, or (on the emulators only) a loopback ``http`` URL. The
backend never fetches any of them; clients reach ``gs://`` objects through
short-lived signed URLs. Text generations may carry their text inline instead.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from generations_live.domain.bounds import MAX_PREVIEW_INPUT_BYTES
from generations_live.domain.errors import InvalidArgument
from generations_live.domain.lifecycle import GenerationType, Visibility
from generations_live.domain.models import OutputReport
from generations_live.domain.settings import OutputPolicy

if TYPE_CHECKING:
    from generations_live.domain.previews import Preview

# Every output object lives under generations/{uid}/{generationId}/: cleanup,
# lifecycle rules and deletion find a generation's objects by that prefix, and
# no worker can point one user's generation at another's objects.
OUTPUTS_PREFIX: Final = "generations/"

# Content types each generation type may produce. A closed list rather than a
# prefix match: image/svg+xml (which can carry script) and the like are refused.
CONTENT_TYPES: Final[dict[GenerationType, frozenset[str]]] = {
    GenerationType.IMAGE: frozenset(
        {"image/png", "image/jpeg", "image/webp", "image/gif", "image/avif"}
    ),
    GenerationType.VIDEO: frozenset({"video/mp4", "video/webm", "video/quicktime"}),
    GenerationType.AUDIO: frozenset(
        {"audio/wav", "audio/mpeg", "audio/ogg", "audio/webm", "audio/mp4", "audio/flac"}
    ),
    GenerationType.TEXT: frozenset({"text/plain", "text/markdown"}),
}
# Only pictures and moving pictures have a size; only sound and video last.
_SIZED: Final = frozenset({GenerationType.IMAGE, GenerationType.VIDEO})
_TIMED: Final = frozenset({GenerationType.VIDEO, GenerationType.AUDIO})

# The feed shows the start of a public text generation's first text output.
TEXT_EXCERPT_LENGTH: Final = 280

_LOOPBACK_NAMES: Final = frozenset({"localhost"})


@dataclass(frozen=True)
class Completion:
    """What a completed generation's outputs add to its documents."""

    outputs: list[dict[str, Any]]
    preview: Preview | None
    text_excerpt: str | None

    def summary(self, visibility: Visibility) -> tuple[dict[str, Any], dict[str, Any]]:
        """The public and the private field changes: a private generation's
        public half says nothing of its output."""
        private = {
            "outputCount": len(self.outputs),
            "preview": None
            if self.preview is None
            else {
                "blurhash": self.preview.blurhash,
                "width": self.preview.width,
                "height": self.preview.height,
            },
            "textExcerpt": self.text_excerpt,
        }
        if visibility is Visibility.PUBLIC:
            return dict(private), private
        return dict.fromkeys(private), private


def decode_preview(encoded: str) -> Preview:
    """The worker's base64 preview, decoded and sanitised, or ``invalid-argument``."""
    # Pillow loads when the first preview arrives, not when an instance starts.
    from generations_live.domain.previews import sanitise_preview  # noqa: PLC0415

    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as malformed:
        raise _refusal("preview", "must be standard base64") from malformed
    if len(data) > MAX_PREVIEW_INPUT_BYTES:
        raise _refusal(
            "preview", f"must be at most {MAX_PREVIEW_INPUT_BYTES} bytes decoded, got {len(data)}"
        )
    return sanitise_preview(data)


def check_outputs(
    reports: Sequence[OutputReport],
    *,
    generation_type: GenerationType,
    batch_size: int,
    owner_id: str,
    generation_id: str,
    policy: OutputPolicy,
) -> list[dict[str, Any]]:
    """The outputs as stored, or ``invalid-argument`` naming the first bad field."""
    if len(reports) > batch_size:
        raise _refusal("outputs", f"must be at most the batch size ({batch_size}) items")
    allowed = CONTENT_TYPES[generation_type]
    prefix = f"{OUTPUTS_PREFIX}{owner_id}/{generation_id}/"
    stored: list[dict[str, Any]] = []
    for index, report in enumerate(reports):
        where = f"outputs.{index}"
        if report.content_type not in allowed:
            raise _refusal(
                f"{where}.contentType",
                f"a {generation_type.value} generation's output is one of {sorted(allowed)}",
            )
        if report.text is not None and generation_type is not GenerationType.TEXT:
            raise _refusal(f"{where}.text", "only text generations carry text inline")
        if (report.width is not None or report.height is not None) and (
            generation_type not in _SIZED
        ):
            raise _refusal(f"{where}.width", "only images and videos have a width and height")
        if report.duration_ms is not None and generation_type not in _TIMED:
            raise _refusal(f"{where}.durationMs", "only videos and audio have a duration")
        if report.uri is not None:
            _check_uri(report.uri, prefix=prefix, policy=policy, field_name=f"{where}.uri")
        stored.append(report.model_dump(by_alias=True, exclude_none=True))
    return stored


def text_excerpt(outputs: list[dict[str, Any]]) -> str | None:
    """The start of the first inline text, on a word boundary when there is one."""
    text = next((output["text"] for output in outputs if "text" in output), None)
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) <= TEXT_EXCERPT_LENGTH:
        return text
    cut = text[: TEXT_EXCERPT_LENGTH - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > TEXT_EXCERPT_LENGTH // 2 else cut) + "…"


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``(bucket, object name)`` of a ``gs://`` URI already checked by ``check_outputs``."""
    parts = urlsplit(uri)
    return parts.netloc, parts.path.removeprefix("/")


def _check_uri(uri: str, *, prefix: str, policy: OutputPolicy, field_name: str) -> None:
    if any(character.isspace() or ord(character) < 0x20 for character in uri):
        raise _refusal(field_name, "must not contain spaces or control characters")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as malformed:
        raise _refusal(field_name, "must be a well-formed URI") from malformed
    if parts.username is not None or parts.password is not None:
        raise _refusal(field_name, "must not carry credentials")
    if parts.scheme == "gs":
        object_name = parts.path.removeprefix("/")
        segments = object_name.split("/")
        if (
            parts.netloc != policy.bucket
            or not object_name.startswith(prefix)
            or object_name == prefix
            or parts.query
            or parts.fragment
            or any(segment in ("", ".", "..") for segment in segments)
        ):
            raise _refusal(
                field_name, f"a gs:// output must be an object under gs://{policy.bucket}/{prefix}"
            )
        return
    host = (parts.hostname or "").lower()
    if parts.scheme == "https":
        if host not in policy.https_hosts:
            raise _refusal(field_name, "an https output's host must be one the deployment allows")
        return
    if parts.scheme == "http" and policy.allow_loopback_http and _is_loopback(host):
        return
    allowed = "gs:// or https://" + (" (or http:// loopback)" if policy.allow_loopback_http else "")
    raise _refusal(field_name, f"must be a {allowed} URI")


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refusal(field_name: str, problem: str) -> InvalidArgument:
    message = f"{field_name} {problem}"
    return InvalidArgument(message, details={"errors": [{"field": field_name, "message": message}]})
