"""Reading what a generation produced: ``getGenerationOutputs``.

Outputs are shown under the generation's own visibility, the rule the
previews' security rules apply too: a public generation's to any signed-in
user, a private or hidden one's to its owner and the admins. ``gs://`` objects
are answered as signed URLs valid for a short time, since the bucket itself
is closed to clients; other URLs pass through as the worker reported them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from generations_live.adapters.generations import GenerationStore
from generations_live.domain.errors import NotFound, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import Visibility
from generations_live.domain.models import GetGenerationOutputsRequest
from generations_live.domain.outputs import parse_gs_uri

# Signs a GET of (bucket, object name) for the TTL: the storage adapter's job.
UrlSigner = Callable[[str, str], str]


def generation_outputs(
    store: GenerationStore,
    caller: Caller,
    request: GetGenerationOutputsRequest,
    *,
    sign: UrlSigner,
    ttl: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """The outputs of a generation the caller may see, with URLs they can open."""
    generation_id = request.generation_id
    found = store.generation_with_outputs(generation_id)
    if found is None:
        raise NotFound(
            f"no generation with id {generation_id!r}", details={"field": "generationId"}
        )
    if not (caller.is_admin or caller.uid == found.public.get("userId")):
        if found.public.get("hidden") is True:
            raise PermissionDenied("this generation was hidden by a moderator")
        if found.private.get("visibility") != Visibility.PUBLIC.value:
            raise PermissionDenied("this generation is private to its owner")
    answered = [_answered(output, sign) for output in found.outputs]
    signed = any(str(output.get("uri", "")).startswith("gs://") for output in found.outputs)
    return {
        "generationId": generation_id,
        "type": found.public.get("type"),
        "status": found.public.get("status"),
        "outputs": answered,
        "expiresAt": (now + ttl).isoformat() if signed else None,
    }


def _answered(output: dict[str, Any], sign: UrlSigner) -> dict[str, Any]:
    answer = {name: value for name, value in output.items() if name != "uri"}
    uri = output.get("uri")
    if isinstance(uri, str):
        answer["url"] = sign(*parse_gs_uri(uri)) if uri.startswith("gs://") else uri
    return answer
