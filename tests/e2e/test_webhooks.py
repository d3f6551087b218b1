"""Outbound webhooks and in-app notifications end to end: admins manage endpoints
through the callables, the deployed dispatcher (a Firestore trigger on the
outbox, run by the Functions emulator) sends each event to a receiver on
127.0.0.1 that the test starts, and every delivery verifies with the
``standardwebhooks`` package. Retries on the policy's schedule, dead letters,
the failure budget and 200 generations' worth of events against a flaky
receiver are in tests/emulator/test_webhook_delivery.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from generations_live.domain.webhooks import SUBSCRIBABLE
from harness.clients import AppUser, CallableClient, CallableError, FirestoreAdminRest
from harness.emulators import PROJECT_ID, EmulatorSuite, run_operator_command
from harness.receiver import Received, Receiver, verified

DEADLINE_S = 60.0


@pytest.fixture
def hooks(api: CallableClient, admin: AppUser) -> Iterator[list[str]]:
    """Endpoints a test registers; disabled after it, so later tests' events go nowhere."""
    registered: list[str] = []
    try:
        yield registered
    finally:
        for endpoint_id in registered:
            api.call("disableWebhookEndpoint", {"endpointId": endpoint_id}, id_token=admin.id_token)


def register(
    api: CallableClient, admin: AppUser, hooks: list[str], url: str, events: list[str]
) -> dict[str, Any]:
    answer: dict[str, Any] = api.call(
        "registerWebhookEndpoint", {"url": url, "events": events}, id_token=admin.id_token
    )
    hooks.append(answer["endpointId"])
    return answer


def track(api: CallableClient, user: AppUser, **fields: Any) -> str:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    generation_id: str = api.call("trackGeneration", data, id_token=user.id_token)["generationId"]
    return generation_id


def of_generation(generation_id: str, event_type: str) -> Any:
    def found(received: list[Received]) -> bool:
        return any(
            r.payload["type"] == event_type and r.payload["data"].get("id") == generation_id
            for r in received
        )

    return found


def test_every_event_reaches_the_receiver_signed_and_without_emails(
    api: CallableClient,
    user: AppUser,
    worker: AppUser,
    admin: AppUser,
    hooks: list[str],
) -> None:
    with Receiver() as receiver:
        endpoint = register(api, admin, hooks, receiver.url, list(SUBSCRIBABLE))
        assert endpoint["secret"].startswith("whsec_")
        generation_id = track(api, user, batchSize=1)
        uri = f"gs://{PROJECT_ID}.appspot.com/generations/{user.uid}/{generation_id}/0.png"
        api.call(
            "updateGenerationStatus",
            {
                "generationId": generation_id,
                "status": "completed",
                "outputs": [{"uri": uri, "contentType": "image/png"}],
            },
            id_token=worker.id_token,
        )
        got = receiver.wait_for(
            "the completion", of_generation(generation_id, "generation.completed"), DEADLINE_S
        )
        mine = [r for r in got if r.payload["data"].get("id") == generation_id]
        assert sorted(r.payload["type"] for r in mine) == [
            "generation.completed",
            "generation.started",
        ]
        for received in mine:
            payload = verified(endpoint["secret"], received)
            assert payload["data"]["userId"] == user.uid
            assert user.email not in received.body.decode()
        assert len({r.webhook_id for r in mine}) == 2
        (completed,) = [r for r in mine if r.payload["type"] == "generation.completed"]
        assert completed.payload["data"]["outputs"] == [{"uri": uri, "contentType": "image/png"}]

    listing = api.call("listWebhookEndpoints", {}, id_token=admin.id_token)
    (listed,) = [e for e in listing["endpoints"] if e["endpointId"] == endpoint["endpointId"]]
    assert "secret" not in json.dumps(listing)
    assert listed["recentAttempts"][0]["delivered"] is True


def test_a_blip_costs_seconds_and_the_retry_keeps_the_webhook_id(
    api: CallableClient, user: AppUser, admin: AppUser, hooks: list[str]
) -> None:
    with Receiver(script=lambda n: (500 if n == 1 else 200, 0.0)) as receiver:
        register(api, admin, hooks, receiver.url, ["generation.started"])
        generation_id = track(api, user)
        got = receiver.wait_for("the retry", lambda r: len(r) >= 2, DEADLINE_S)
        first, second = got[:2]
        assert first.webhook_id == second.webhook_id
        assert first.payload["data"]["id"] == generation_id
        # The first retry waits WEBHOOK_RETRY_DELAYS' first delay (5 s), not an hour.
        assert second.received_at - first.received_at < 30


def test_only_admins_manage_endpoints_and_unsafe_urls_are_refused(
    api: CallableClient, user: AppUser, admin: AppUser
) -> None:
    for name, data in (
        ("registerWebhookEndpoint", {"url": "https://example.com/h", "events": ["credits.low"]}),
        ("listWebhookEndpoints", {}),
        ("rotateWebhookSecret", {"endpointId": "x"}),
        ("disableWebhookEndpoint", {"endpointId": "x"}),
    ):
        with pytest.raises(CallableError) as refused:
            api.call(name, data, id_token=user.id_token)
        assert refused.value.code == "permission-denied"
    for url in (
        "http://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/x",
        "http://167772161/x",  # 10.0.0.1 written as one decimal number
        "https://user:pass@example.com/x",
        "ftp://example.com/x",
    ):
        with pytest.raises(CallableError) as refused:
            api.call(
                "registerWebhookEndpoint",
                {"url": url, "events": ["generation.started"]},
                id_token=admin.id_token,
            )
        assert refused.value.code == "invalid-argument", url
        assert "url" in {problem["field"] for problem in refused.value.details["errors"]}
    with pytest.raises(CallableError) as refused:
        api.call(
            "registerWebhookEndpoint",
            {"url": "https://example.com/h", "events": ["webhook.test"]},
            id_token=admin.id_token,
        )
    assert refused.value.code == "invalid-argument"
    with pytest.raises(CallableError) as refused:
        api.call("rotateWebhookSecret", {"endpointId": "nosuchendpoint"}, id_token=admin.id_token)
    assert refused.value.code == "not-found"


def notifications(firestore_admin: FirestoreAdminRest, uid: str) -> dict[str, dict[str, Any]]:
    prefix = f"/documents/users/{uid}/notifications/"
    return {
        path.rsplit("/", 1)[1]: fields
        for path, fields in firestore_admin.collection_group("notifications").items()
        if prefix in path
    }


def read_as(suite: EmulatorSuite, reader: AppUser, path: str) -> int:
    url = (
        f"{suite.url('firestore')}/v1/projects/{suite.project}/databases/(default)/documents/{path}"
    )
    headers = {"Authorization": f"Bearer {reader.id_token}"}
    return requests.get(url, headers=headers, timeout=30).status_code


def test_owners_are_told_of_ends_and_low_credits_and_mark_them_read(
    suite: EmulatorSuite,
    api: CallableClient,
    user: AppUser,
    stranger: AppUser,
    worker: AppUser,
    firestore_admin: FirestoreAdminRest,
) -> None:
    # A new user's 10 daily free credits: the second image (5 each) leaves 0, below 5.
    first, second = track(api, user), track(api, user)
    for generation_id, status in ((first, "completed"), (second, "failed")):
        report = {"generationId": generation_id, "status": status}
        api.call("updateGenerationStatus", report, id_token=worker.id_token)
    third = track(api, user, type="text")
    api.call(
        "updateGenerationStatus",
        {"generationId": third, "status": "canceled"},
        id_token=user.id_token,
    )

    told = notifications(firestore_admin, user.uid)
    kinds = sorted(fields["type"]["stringValue"] for fields in told.values())
    assert kinds == ["credits.low", "generation.completed", "generation.failed"]
    assert all(fields["read"]["booleanValue"] is False for fields in told.values())
    some_id = next(iter(told))
    assert read_as(suite, user, f"users/{user.uid}/notifications/{some_id}") == 200
    assert read_as(suite, stranger, f"users/{user.uid}/notifications/{some_id}") == 403

    # A stranger naming someone else's notification changes nothing.
    marked = api.call("markNotificationsRead", {"ids": [some_id]}, id_token=stranger.id_token)
    assert marked == {"marked": 0, "more": False}
    assert api.call("markNotificationsRead", {}, id_token=user.id_token) == {
        "marked": 3,
        "more": False,
    }
    assert all(
        fields["read"]["booleanValue"] is True
        for fields in notifications(firestore_admin, user.uid).values()
    )
    assert api.call("markNotificationsRead", {}, id_token=user.id_token)["marked"] == 0


def test_the_operator_lists_tests_and_replays_webhooks(
    suite: EmulatorSuite, api: CallableClient, user: AppUser, admin: AppUser, hooks: list[str]
) -> None:
    with Receiver() as receiver:
        endpoint = register(api, admin, hooks, receiver.url, ["generation.started"])
        generation_id = track(api, user)
        (delivered,) = receiver.wait_for(
            "the start", of_generation(generation_id, "generation.started"), DEADLINE_S
        )

        listed = run_operator_command(suite, "webhooks", "list")
        assert listed.returncode == 0, listed.stderr
        assert endpoint["endpointId"] in listed.stdout
        assert endpoint["secret"] not in listed.stdout

        tested = run_operator_command(
            suite, "webhooks", "test", "--endpoint", endpoint["endpointId"]
        )
        assert tested.returncode == 0, tested.stderr
        assert json.loads(tested.stdout)["state"] == "delivered"
        assert receiver.requests()[-1].payload["type"] == "webhook.test"

        replayed = run_operator_command(
            suite, "webhooks", "replay", "--event", delivered.webhook_id
        )
        assert replayed.returncode == 0, replayed.stderr
        again = receiver.requests()[-1]
        assert again.webhook_id == delivered.webhook_id
        assert again.body == delivered.body
        verified(endpoint["secret"], again)

        missing = run_operator_command(suite, "webhooks", "replay", "--event", uuid.uuid4().hex)
        assert missing.returncode != 0
        assert "no webhook event" in missing.stderr
