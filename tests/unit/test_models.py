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


def test_prompt_is_stored_trimmed() -> None:
    prompt = "  " + "x" * 4000 + "  \n"
    request = TrackGenerationRequest.model_validate({**VALID_TRACK, "prompt": prompt})
    assert request.prompt == "x" * 4000


@pytest.mark.parametrize(
    "prompt",
    [
        "a" + " " * 1_000_000,  # one letter and a megabyte of spaces: stored as "a"
        "\u4e00" * 4000,  # 12,000 bytes: the most a prompt may take
    ],
)
def test_prompt_bounds_are_characters_and_bytes_after_trimming(prompt: str) -> None:
    request = TrackGenerationRequest.model_validate({**VALID_TRACK, "prompt": prompt})
    assert len(request.prompt.encode()) <= 12_000


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ("\U0001f600" * 3001, "bytes"),  # 3,001 characters of four bytes: 12,004 bytes
        ("ok \ud800", "UTF-8"),  # a lone surrogate cannot be stored
        ("x" * 4001, "4000 characters"),
    ],
)
def test_prompts_over_a_bound_or_not_utf8_are_refused(prompt: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        TrackGenerationRequest.model_validate({**VALID_TRACK, "prompt": prompt})


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
