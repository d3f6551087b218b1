from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from generations_live.domain import documents
from generations_live.domain.identity import ANONYMOUS_DISPLAY_NAME, caller_from_claims
from generations_live.domain.lifecycle import GenerationType
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.domain.settings import parse_default_engines

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PRICING = documents.Pricing(cost=10, price_version="2026-01")
CALLER = caller_from_claims("u1", {"name": "Ada Lovelace", "email": "ada@example.com"})


def track(**fields: object) -> TrackGenerationRequest:
    return TrackGenerationRequest.model_validate({"type": "video", "prompt": "a ship", **fields})


def test_identity_comes_from_claims() -> None:
    caller = caller_from_claims("u1", {"name": "  Ada   Lovelace ", "admin": True, "worker": "yes"})
    assert caller.display_name == "Ada Lovelace"
    assert caller.is_admin
    assert not caller.is_worker  # only a boolean true claim counts


@pytest.mark.parametrize("name", [None, "", "   ", 7, "ada@example.com"])
def test_display_name_falls_back_to_a_neutral_name(name: object) -> None:
    assert caller_from_claims("u1", {"name": name}).display_name == ANONYMOUS_DISPLAY_NAME


def started(request: TrackGenerationRequest, engine: str = "sora") -> documents.GenerationDocuments:
    return documents.new_generation(
        CALLER, request, engine=engine, pricing=PRICING, now=NOW, retention=timedelta(days=30)
    )


def test_public_document_has_only_public_fields() -> None:
    docs = started(track(requestId="req-12345678"))
    assert set(docs.public) | {"createdAt", "updatedAt"} == set(documents.PUBLIC_FIELDS)
    assert "ada@example.com" not in repr(docs.public)
    assert docs.private["userEmail"] == "ada@example.com"
    assert docs.private["requestId"] == "req-12345678"
    assert docs.public["engine"] == "sora"
    assert docs.public["expireAt"] == NOW + timedelta(days=30)
    assert (docs.private["cost"], docs.private["priceVersion"]) == (10, "2026-01")
    assert "cost" not in docs.public
    assert set(docs.private) - set(docs.public) == set(documents.PRIVATE_ONLY_FIELDS)


def test_private_generation_keeps_the_prompt_out_of_the_feed() -> None:
    docs = started(track(visibility="private"))
    assert docs.public["prompt"] is None
    assert docs.private["prompt"] == "a ship"


def test_generation_ids_for_requests_are_stable_and_scoped_by_user() -> None:
    first = documents.generation_id_for_request("u1", "request-0001")
    assert first == documents.generation_id_for_request("u1", "request-0001")
    assert first != documents.generation_id_for_request("u2", "request-0001")
    assert first != documents.generation_id_for_request("u1", "request-0002")


def test_terminal_update_measures_duration_unless_reported() -> None:
    failed = UpdateGenerationStatusRequest.model_validate(
        {"generationId": "g", "status": "failed", "error": {"code": "oom", "message": "GPU"}}
    )
    changes = documents.terminal_update(failed, NOW - timedelta(seconds=3), NOW)
    assert changes.public == {"status": "failed", "durationMs": 3000, "errorCode": "oom"}
    assert changes.private["errorMessage"] == "GPU"
    reported = UpdateGenerationStatusRequest.model_validate(
        {"generationId": "g", "status": "completed", "durationMs": 1234}
    )
    assert documents.terminal_update(reported, NOW, NOW).public["durationMs"] == 1234


def test_failure_without_a_report_gets_a_generic_code() -> None:
    failed = UpdateGenerationStatusRequest.model_validate({"generationId": "g", "status": "failed"})
    assert documents.terminal_update(failed, NOW, NOW).public["errorCode"] == "unknown"


def test_default_engines_must_cover_every_type() -> None:
    with pytest.raises(ValueError, match="no engine"):
        parse_default_engines("image=gemini")
    assert set(parse_default_engines("image=a,video=b,audio=c,text=d")) == set(GenerationType)
