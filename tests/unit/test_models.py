from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from generations_live.domain.lifecycle import GenerationType, Status, Visibility
from generations_live.domain.models import (
    GetLiveGenerationsRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)

VALID_TRACK = {"type": "image", "prompt": "a red fox in the snow"}


def refused_fields(model: Any, data: Any) -> set[str]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    return {".".join(str(part) for part in error["loc"]) for error in refused.value.errors()}


def test_track_defaults() -> None:
    request = TrackGenerationRequest.model_validate(VALID_TRACK)
    assert request.type is GenerationType.IMAGE
    assert request.batch_size == 1
    assert request.engine is None
    assert request.request_id is None
    assert request.visibility is Visibility.PUBLIC


def test_prompt_is_kept_as_given_but_measured_trimmed() -> None:
    prompt = "  " + "x" * 4000 + "  "
    request = TrackGenerationRequest.model_validate({**VALID_TRACK, "prompt": prompt})
    assert request.prompt == prompt


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": " \n\t "}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"type": "hologram"}, "type"),
        ({"type": None}, "type"),
        ({"batchSize": 0}, "batchSize"),
        ({"batchSize": 9}, "batchSize"),
        ({"batchSize": "2"}, "batchSize"),
        ({"batchSize": True}, "batchSize"),
        ({"batchSize": 2.5}, "batchSize"),
        ({"engine": "Gemini"}, "engine"),
        ({"engine": "-gemini"}, "engine"),
        ({"engine": "g" * 41}, "engine"),
        ({"engine": "gemini\n"}, "engine"),
        ({"requestId": "short"}, "requestId"),
        ({"requestId": "has space in it"}, "requestId"),
        ({"requestId": "r" * 65}, "requestId"),
        ({"visibility": "friends"}, "visibility"),
        ({"userName": "Mallory"}, "userName"),
        ({"batch_size": 2}, "batch_size"),
    ],
)
def test_track_refuses_bad_fields(changes: dict[str, Any], field: str) -> None:
    assert field in refused_fields(TrackGenerationRequest, {**VALID_TRACK, **changes})


def test_track_requires_type_and_prompt() -> None:
    assert refused_fields(TrackGenerationRequest, {}) == {"type", "prompt"}


def test_track_refuses_non_objects() -> None:
    assert refused_fields(TrackGenerationRequest, ["image", "a fox"]) == {""}


def test_track_accepts_edges() -> None:
    request = TrackGenerationRequest.model_validate(
        {
            **VALID_TRACK,
            "engine": "a" * 40,
            "batchSize": 8,
            "requestId": "A-b_" * 16,
            "visibility": "private",
            "prompt": "y" * 4000,
        }
    )
    assert request.batch_size == 8
    assert request.visibility is Visibility.PRIVATE


def test_update_accepts_failure_with_error() -> None:
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": "abc123", "status": "failed", "error": {"code": "nsfw", "message": "x"}}
    )
    assert request.status is Status.FAILED
    assert request.error is not None
    assert request.error.code == "nsfw"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"generationId": "a/b", "status": "completed"}, "generationId"),
        ({"generationId": "", "status": "completed"}, "generationId"),
        ({"generationId": "abc", "status": "done"}, "status"),
        ({"generationId": "abc", "status": "completed", "durationMs": -1}, "durationMs"),
        ({"generationId": "abc", "status": "completed", "error": {"code": "x"}}, ""),
        ({"generationId": "abc", "status": "failed", "error": {"code": "Bad Code"}}, "error.code"),
        ({"generationId": "abc", "status": "failed", "error": "boom"}, "error"),
        ({"status": "completed"}, "generationId"),
    ],
)
def test_update_refuses_bad_fields(data: dict[str, Any], field: str) -> None:
    assert field in refused_fields(UpdateGenerationStatusRequest, data)


def test_live_query_limits() -> None:
    assert GetLiveGenerationsRequest.model_validate({}).limit == 50
    assert "limit" in refused_fields(GetLiveGenerationsRequest, {"limit": 0})
    assert "limit" in refused_fields(GetLiveGenerationsRequest, {"limit": 51})
    assert "status" in refused_fields(GetLiveGenerationsRequest, {"status": "queued"})
