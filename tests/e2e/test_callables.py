"""The three tracking callables, end to end through the Functions emulator."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
)
from harness.emulators import EmulatorSuite

PUBLIC_FIELDS = {
    "id", "userId", "userName", "type", "engine", "prompt", "status", "batchSize",
    "createdAt", "updatedAt", "completedAt", "durationMs", "errorCode", "hidden", "expireAt",
    "preview", "outputCount", "textExcerpt",
}  # fmt: skip


def track(api: CallableClient, user: AppUser, **fields: Any) -> dict[str, Any]:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    result: dict[str, Any] = api.call("trackGeneration", data, id_token=user.id_token)
    return result


def feed_entry(api: CallableClient, reader: AppUser, generation_id: str) -> dict[str, Any]:
    feed = api.call("getLiveGenerations", {}, id_token=reader.id_token)["generations"]
    matches = [item for item in feed if item["id"] == generation_id]
    assert len(matches) == 1, f"{generation_id} not in the feed"
    entry: dict[str, Any] = matches[0]
    return entry


def history(firestore_admin: FirestoreAdminRest, uid: str) -> dict[str, dict[str, Any]]:
    prefix = f"/documents/users/{uid}/generations/"
    return {
        path.rsplit("/", 1)[1]: fields
        for path, fields in firestore_admin.collection_group("generations").items()
        if prefix in path
    }


def test_a_started_generation_reaches_the_feed_without_private_data(
    api: CallableClient, user: AppUser, stranger: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    started = track(api, user, type="audio", engine="elevenlabs", batchSize=2)
    assert started["status"] == "processing"
    assert (started["cost"], started["balance"], started["available"]) == (4, 10, 6)
    entry = feed_entry(api, stranger, started["generationId"])
    assert set(entry) == PUBLIC_FIELDS
    assert entry["userId"] == user.uid
    assert entry["userName"] == "Grace Hopper"
    assert (entry["type"], entry["engine"], entry["batchSize"]) == ("audio", "elevenlabs", 2)
    assert entry["prompt"] == "a lighthouse at dusk"
    assert user.email not in repr(firestore_admin.collection_group("live_generations"))
    record = history(firestore_admin, user.uid)[started["generationId"]]
    assert record["userEmail"]["stringValue"] == user.email


def test_identity_comes_from_the_token_only(
    api: CallableClient, auth: AuthEmulator, stranger: AppUser
) -> None:
    nameless = auth.create_user(display_name=None)
    started = track(api, nameless)
    assert feed_entry(api, stranger, started["generationId"])["userName"] == "Anonymous creator"
    with pytest.raises(CallableError) as refused:
        track(api, nameless, userName="Mallory", userId=stranger.uid)
    assert refused.value.code == "invalid-argument"
    assert "userName" in refused.value.message


def test_private_generations_hide_the_prompt(
    api: CallableClient, user: AppUser, stranger: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    started = track(api, user, prompt="my secret plan", visibility="private")
    assert feed_entry(api, stranger, started["generationId"])["prompt"] is None
    assert "my secret plan" not in repr(firestore_admin.collection_group("live_generations"))
    record = history(firestore_admin, user.uid)[started["generationId"]]
    assert record["prompt"]["stringValue"] == "my secret plan"


def test_request_id_makes_retries_idempotent_even_concurrently(
    api: CallableClient, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: track(api, user, requestId=request_id), range(8)))
    assert len({result["generationId"] for result in results}) == 1
    assert len(history(firestore_admin, user.uid)) == 1
    assert track(api, user, requestId=request_id) == results[0]
    assert len(history(firestore_admin, user.uid)) == 1


def test_worker_reports_outcomes_once(
    api: CallableClient, user: AppUser, worker: AppUser, stranger: AppUser
) -> None:
    generation_id = track(api, user)["generationId"]
    report = {"generationId": generation_id, "status": "failed", "durationMs": 4200}
    report["error"] = {"code": "engine_timeout", "message": "upstream took too long"}
    answer = api.call("updateGenerationStatus", report, id_token=worker.id_token)
    assert answer == {"generationId": generation_id, "status": "failed"}
    # The same report again (a worker retry) is a success that changes nothing.
    assert api.call("updateGenerationStatus", report, id_token=worker.id_token) == answer
    entry = feed_entry(api, stranger, generation_id)
    assert (entry["status"], entry["errorCode"], entry["durationMs"]) == (
        "failed",
        "engine_timeout",
        4200,
    )
    assert entry["completedAt"] is not None
    with pytest.raises(CallableError) as refused:
        api.call(
            "updateGenerationStatus",
            {"generationId": generation_id, "status": "completed"},
            id_token=worker.id_token,
        )
    assert refused.value.code == "failed-precondition"
    assert feed_entry(api, stranger, generation_id)["status"] == "failed"


def test_owner_cancels_but_cannot_complete(
    api: CallableClient, user: AppUser, stranger: AppUser, admin: AppUser
) -> None:
    generation_id = track(api, user)["generationId"]
    for caller, status in [(user, "completed"), (stranger, "canceled")]:
        with pytest.raises(CallableError) as refused:
            api.call(
                "updateGenerationStatus",
                {"generationId": generation_id, "status": status},
                id_token=caller.id_token,
            )
        assert refused.value.code == "permission-denied"
    cancel = {"generationId": generation_id, "status": "canceled"}
    assert api.call("updateGenerationStatus", cancel, id_token=user.id_token)["status"] == (
        "canceled"
    )
    assert feed_entry(api, admin, generation_id)["status"] == "canceled"


def test_live_feed_filters_and_limits(
    suite: EmulatorSuite, api: CallableClient, user: AppUser, worker: AppUser
) -> None:
    # Engines are a closed list: an empty feed keeps this test's generations apart.
    suite.wipe_firestore()
    engine = "suno"
    ids = [track(api, user, type="audio", engine=engine)["generationId"] for _ in range(3)]
    api.call(
        "updateGenerationStatus",
        {"generationId": ids[0], "status": "completed"},
        id_token=worker.id_token,
    )

    def feed(**query: Any) -> list[str]:
        result = api.call("getLiveGenerations", query, id_token=user.id_token)
        return [item["id"] for item in result["generations"]]

    assert feed(engine=engine) == ids[::-1]
    assert feed(engine=engine, status="processing", type="audio") == [ids[2], ids[1]]
    assert feed(engine=engine, status="completed") == [ids[0]]
    assert feed(engine=engine, limit=2) == [ids[2], ids[1]]
    assert len(feed(limit=50)) <= 50
