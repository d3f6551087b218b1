"""Bad input, missing identity and unknown ids: the right code, the field
named, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from harness.clients import AppUser, CallableClient, CallableError, FirestoreAdminRest
from harness.emulators import EmulatorSuite

GOOD_TRACK = {"type": "text", "prompt": "a haiku about rain"}
GOOD_GRANT = {"userId": "some-user", "amount": 5, "reason": "goodwill", "grantId": "grant-00001"}

BAD_CALLS = [
    ("trackGeneration", {}, "type"),
    ("trackGeneration", {"prompt": "x"}, "type"),
    ("trackGeneration", {**GOOD_TRACK, "prompt": ""}, "prompt"),
    ("trackGeneration", {**GOOD_TRACK, "prompt": "   "}, "prompt"),
    ("trackGeneration", {**GOOD_TRACK, "prompt": "p" * 4001}, "prompt"),
    ("trackGeneration", {**GOOD_TRACK, "prompt": ["not", "text"]}, "prompt"),
    ("trackGeneration", {**GOOD_TRACK, "type": "hologram"}, "type"),
    ("trackGeneration", {**GOOD_TRACK, "batchSize": 0}, "batchSize"),
    ("trackGeneration", {**GOOD_TRACK, "batchSize": 9}, "batchSize"),
    ("trackGeneration", {**GOOD_TRACK, "batchSize": "4"}, "batchSize"),
    ("trackGeneration", {**GOOD_TRACK, "engine": "Sora 2"}, "engine"),
    ("trackGeneration", {**GOOD_TRACK, "engine": "_sora"}, "engine"),
    ("trackGeneration", {**GOOD_TRACK, "requestId": "short"}, "requestId"),
    ("trackGeneration", {**GOOD_TRACK, "requestId": "bad/request/id"}, "requestId"),
    ("trackGeneration", {**GOOD_TRACK, "visibility": "friends"}, "visibility"),
    ("trackGeneration", {**GOOD_TRACK, "status": "completed"}, "status"),
    ("trackGeneration", "just a string", "data"),
    ("trackGeneration", None, "type"),
    ("updateGenerationStatus", {"status": "completed"}, "generationId"),
    ("updateGenerationStatus", {"generationId": "a/b", "status": "completed"}, "generationId"),
    ("updateGenerationStatus", {"generationId": "g1", "status": "done"}, "status"),
    ("updateGenerationStatus", {"generationId": "g1", "status": "failed", "error": 5}, "error"),
    (
        "updateGenerationStatus",
        {"generationId": "g1", "status": "completed", "durationMs": -5},
        "durationMs",
    ),
    ("getLiveGenerations", {"limit": 0}, "limit"),
    ("getLiveGenerations", {"limit": 51}, "limit"),
    ("getLiveGenerations", {"type": "hologram"}, "type"),
    ("getLiveGenerations", {"engine": "UPPER"}, "engine"),
    ("getLiveGenerations", {"orderBy": "prompt"}, "orderBy"),
    ("trackGeneration", {**GOOD_TRACK, "mode": "remix"}, "mode"),
    ("trackGeneration", {**GOOD_TRACK, "type": "video", "mode": "edit"}, "mode"),
    ("quoteGeneration", {}, "type"),
    ("quoteGeneration", {"type": "image", "batchSize": 9}, "batchSize"),
    ("quoteGeneration", {"type": "audio", "mode": "edit"}, "mode"),
    ("quoteGeneration", {"type": "image", "prompt": "not priced by prompt"}, "prompt"),
    ("getUserUsage", {"days": 0}, "days"),
    ("getGenerationAnalytics", {"days": 0}, "days"),
    ("getGenerationAnalytics", {"days": 91}, "days"),
    ("getGenerationAnalytics", {"days": "7"}, "days"),
    ("getGenerationAnalytics", {"days": 7, "userId": "x"}, "userId"),
    ("getBillingAnalytics", {"days": 91}, "days"),
    ("getUserUsage", {"days": 91}, "days"),
    ("getGenerationOutputs", {"generationId": "a/b"}, "generationId"),
    ("getGenerationOutputs", {}, "generationId"),
    ("trackGeneration", {**GOOD_TRACK, "regeneratedFrom": "../x"}, "regeneratedFrom"),
    ("getUserUsage", {"days": "7"}, "days"),
    ("grantCredits", {**GOOD_GRANT, "amount": 0}, "amount"),
    ("grantCredits", {**GOOD_GRANT, "amount": 10**9}, "amount"),
    ("grantCredits", {**GOOD_GRANT, "amount": "5"}, "amount"),
    ("grantCredits", {**GOOD_GRANT, "userId": "a/b"}, "userId"),
    ("grantCredits", {**GOOD_GRANT, "reason": "  "}, "reason"),
    ("grantCredits", {key: v for key, v in GOOD_GRANT.items() if key != "grantId"}, "grantId"),
]


@pytest.fixture
def everything(firestore_admin: FirestoreAdminRest) -> Any:
    def snapshot() -> tuple[dict[str, Any], ...]:
        return tuple(
            firestore_admin.collection_group(collection)
            for collection in (
                "live_generations",
                "generations",
                "billing",
                "ledger",
                "usage",
                "generation_events",
            )
        )

    return snapshot


@pytest.mark.parametrize(("function", "data", "field"), BAD_CALLS)
def test_bad_input_is_invalid_argument_naming_the_field(
    api: CallableClient, worker: AppUser, everything: Any, function: str, data: Any, field: str
) -> None:
    before = everything()
    with pytest.raises(CallableError) as refused:
        api.call(function, data, id_token=worker.id_token)
    assert refused.value.code == "invalid-argument"
    assert refused.value.http_status == 400
    named = {problem["field"] for problem in refused.value.details["errors"]}
    assert field in named, refused.value.message
    assert everything() == before


@pytest.mark.parametrize(
    ("function", "data"),
    [
        ("trackGeneration", GOOD_TRACK),
        ("updateGenerationStatus", {"generationId": "g1", "status": "completed"}),
        ("getLiveGenerations", {}),
        ("quoteGeneration", {"type": "image"}),
        ("getUserUsage", {"days": 7}),
        ("grantCredits", GOOD_GRANT),
        ("getGenerationAnalytics", {"days": 7}),
        ("getBillingAnalytics", {"days": 7}),
        ("getGenerationOutputs", {"generationId": "g1"}),
    ],
)
@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_unsigned_callers_are_unauthenticated(
    api: CallableClient, everything: Any, function: str, data: Any, token: str | None
) -> None:
    before = everything()
    with pytest.raises(CallableError) as refused:
        api.call(function, data, id_token=token)
    assert refused.value.code == "unauthenticated"
    assert refused.value.http_status == 401
    assert everything() == before


def test_unknown_generation_is_not_found(
    api: CallableClient, worker: AppUser, everything: Any
) -> None:
    before = everything()
    with pytest.raises(CallableError) as refused:
        api.call(
            "updateGenerationStatus",
            {"generationId": "no-such-generation", "status": "completed"},
            id_token=worker.id_token,
        )
    assert refused.value.code == "not-found"
    assert "generationId" in refused.value.details["field"]
    assert everything() == before


def test_malformed_protocol_bodies_are_refused_not_internal(
    suite: EmulatorSuite, user: AppUser
) -> None:
    headers = {"Authorization": f"Bearer {user.id_token}", "Content-Type": "application/json"}
    url = suite.function_url("trackGeneration")
    for body in ["{}", "[1, 2]", "not json", '{"nodata": 1}']:
        reply = requests.post(url, data=body, headers=headers, timeout=30)
        assert reply.status_code == 400, body
        assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
