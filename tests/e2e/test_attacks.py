"""Attacks a signed-in user (an anonymous guest costs nothing) could try, each
through the callable protocol or the webhook as a client sends it: the answer
is a declared refusal, and nothing is written for it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from generations_live.domain.signatures import SIGNATURE_HEADER, sign
from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError, FirestoreAdminRest
from harness.emulators import EmulatorSuite, local_webhook_secret

TEXT = {"type": "text", "prompt": "a haiku about rain"}


def start(api: CallableClient, user: AppUser, **changes: Any) -> str:
    answer = api.call("trackGeneration", {**TEXT, **changes}, id_token=user.id_token)
    generation_id: str = answer["generationId"]
    return generation_id


def value(fields: dict[str, Any] | None, name: str) -> Any:
    """A REST field's plain value (string, integer, boolean or null)."""
    cell = (fields or {}).get(name, {})
    for kind in ("stringValue", "booleanValue"):
        if kind in cell:
            return cell[kind]
    if "integerValue" in cell:
        return int(cell["integerValue"])
    return None


def raw_call(suite: EmulatorSuite, name: str, body: bytes, token: str) -> requests.Response:
    return requests.post(
        suite.function_url(name),
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        timeout=60,
    )


def feed_count(firestore_admin: FirestoreAdminRest, uid: str) -> int:
    return firestore_admin.count("generations", parent=f"users/{uid}")


# 1. Stored sizes.


def test_a_megabyte_of_padding_is_refused_before_parsing(
    suite: EmulatorSuite, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    body = json.dumps({"data": {**TEXT, "prompt": "a" + " " * 1_000_000}}).encode()
    reply = raw_call(suite, "trackGeneration", body, user.id_token)
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "64 KiB" in reply.json()["error"]["message"]
    assert feed_count(firestore_admin, user.uid) == 0


def test_padding_under_the_body_limit_is_stored_trimmed(
    api: CallableClient, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    generation_id = start(api, user, prompt="\n a \t" + " " * 60_000)
    public = firestore_admin.get(f"live_generations/{generation_id}")
    assert value(public, "prompt") == "a"
    private = firestore_admin.get(f"users/{user.uid}/generations/{generation_id}")
    assert value(private, "prompt") == "a"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**TEXT, "prompt": "rain \ud800"}, "prompt"),  # a lone surrogate
        ({**TEXT, "\udfff": 1}, "\\udfff"),  # in a key
        ({**TEXT, "prompt": "\U0001f327" * 3001}, "prompt"),  # 3,001 characters, 12,004 bytes
        ({**TEXT, "unknown": "x" * 60_000}, "unknown"),
    ],
)
def test_text_that_cannot_be_stored_is_invalid_argument(
    api: CallableClient,
    user: AppUser,
    firestore_admin: FirestoreAdminRest,
    data: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(CallableError) as refused:
        api.call("trackGeneration", data, id_token=user.id_token)
    assert refused.value.code == "invalid-argument"
    assert field in [problem["field"] for problem in refused.value.details["errors"]]
    assert feed_count(firestore_admin, user.uid) == 0


@pytest.mark.parametrize("depth", [20, 900, 5000])
def test_deeply_nested_bodies_are_invalid_argument(
    suite: EmulatorSuite, user: AppUser, firestore_admin: FirestoreAdminRest, depth: int
) -> None:
    # A few KiB of brackets: past Python's recursion limit at 5000, past ours at 20.
    nested = "[" * depth + "]" * depth
    body = ('{"data": {"type": "text", "prompt": "rain", "engine": ' + nested + "}}").encode()
    reply = raw_call(suite, "trackGeneration", body, user.id_token)
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert feed_count(firestore_admin, user.uid) == 0


def test_an_error_report_is_bounded_in_bytes(
    api: CallableClient, user: AppUser, worker: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    generation_id = start(api, user)
    report = {
        "generationId": generation_id,
        "status": "failed",
        "error": {"code": "oom", "message": "\U0001f4a5" * 1600},  # 6,400 bytes
    }
    with pytest.raises(CallableError) as refused:
        api.call("updateGenerationStatus", report, id_token=worker.id_token)
    assert refused.value.code == "invalid-argument"
    assert value(firestore_admin.get(f"live_generations/{generation_id}"), "status") == (
        "processing"
    )


# 2. Authorisation before any lock: the store tier proves no claim is taken
# (tests/emulator/test_attacks_store.py); here, the answers.


def test_a_stranger_hammering_a_generation_never_delays_its_worker(
    api: CallableClient, user: AppUser, stranger: AppUser, worker: AppUser
) -> None:
    generation_id = start(api, user)
    report = {"generationId": generation_id, "status": "canceled"}
    for _ in range(5):
        with pytest.raises(CallableError) as refused:
            api.call("updateGenerationStatus", report, id_token=stranger.id_token)
        assert refused.value.code == "permission-denied"
    done = {"generationId": generation_id, "status": "completed"}
    assert api.call("updateGenerationStatus", done, id_token=worker.id_token)["status"] == (
        "completed"
    )


# 3. Moderation settles credits.


def billing(firestore_admin: FirestoreAdminRest, uid: str) -> tuple[int, int]:
    fields = firestore_admin.get(f"billing/{uid}")
    return value(fields, "balance") or 0, value(fields, "held") or 0


def test_hiding_a_processing_generation_cancels_it_and_releases_its_hold(
    api: CallableClient, user: AppUser, admin: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    generation_id = start(api, user, type="video", prompt="something to hide")
    assert billing(firestore_admin, user.uid)[1] == 10
    hide = {"generationId": generation_id, "action": "hide", "reason": "spam"}
    answer = api.call("moderateGeneration", hide, id_token=admin.id_token)
    assert answer == {
        "generationId": generation_id,
        "hidden": True,
        "status": "canceled",
        "changed": True,
    }
    assert billing(firestore_admin, user.uid) == (10, 0)
    public = firestore_admin.get(f"live_generations/{generation_id}")
    assert (value(public, "status"), value(public, "prompt"), value(public, "hidden")) == (
        "canceled",
        None,
        True,
    )
    private = firestore_admin.get(f"users/{user.uid}/generations/{generation_id}") or {}
    assert value(private, "prompt") == "something to hide"
    moderation = private["moderation"]["mapValue"]["fields"]
    assert (value(moderation, "reason"), value(moderation, "by")) == ("spam", admin.uid)
    assert firestore_admin.get(f"billing/{user.uid}/ledger/release_{generation_id}") is not None

    again = api.call("moderateGeneration", hide, id_token=admin.id_token)
    assert again["changed"] is False
    assert billing(firestore_admin, user.uid) == (10, 0)

    restore = {"generationId": generation_id, "action": "restore", "reason": "appeal upheld"}
    assert api.call("moderateGeneration", restore, id_token=admin.id_token)["hidden"] is False
    public = firestore_admin.get(f"live_generations/{generation_id}")
    assert (value(public, "prompt"), value(public, "status")) == ("something to hide", "canceled")


def test_restoring_a_private_generation_keeps_its_prompt_private(
    api: CallableClient, user: AppUser, admin: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    generation_id = start(api, user, visibility="private")
    for action in ("hide", "restore"):
        api.call(
            "moderateGeneration",
            {"generationId": generation_id, "action": action, "reason": "check"},
            id_token=admin.id_token,
        )
    assert value(firestore_admin.get(f"live_generations/{generation_id}"), "prompt") is None


@pytest.mark.parametrize("role", ["user", "worker"])
def test_only_admins_moderate(
    api: CallableClient,
    user: AppUser,
    worker: AppUser,
    firestore_admin: FirestoreAdminRest,
    role: str,
) -> None:
    generation_id = start(api, user)
    caller = {"user": user, "worker": worker}[role]
    hide = {"generationId": generation_id, "action": "hide", "reason": "mine now"}
    with pytest.raises(CallableError) as refused:
        api.call("moderateGeneration", hide, id_token=caller.id_token)
    assert refused.value.code == "permission-denied"
    assert value(firestore_admin.get(f"live_generations/{generation_id}"), "hidden") is False
    with pytest.raises(CallableError) as queue:
        api.call("getModerationQueue", {}, id_token=caller.id_token)
    assert queue.value.code == "permission-denied"


def test_reports_count_once_per_user_and_reach_the_queue_most_reported_first(
    api: CallableClient, auth: AuthEmulator, user: AppUser, admin: AppUser
) -> None:
    reporters = [auth.create_user(display_name=f"Reporter {n}") for n in range(3)]
    popular, quiet = start(api, user), start(api, user)
    with pytest.raises(CallableError) as own:
        api.call(
            "reportGeneration",
            {"generationId": popular, "reason": "mine"},
            id_token=user.id_token,
        )
    assert own.value.code == "permission-denied"
    for reporter in reporters:
        for _ in range(2):  # a second report by the same user counts nothing
            api.call(
                "reportGeneration",
                {"generationId": popular, "reason": "off-topic"},
                id_token=reporter.id_token,
            )
    last = api.call(
        "reportGeneration",
        {"generationId": quiet, "reason": "once"},
        id_token=reporters[0].id_token,
    )
    assert last == {"generationId": quiet, "counted": True, "reportCount": 1}
    queue = api.call("getModerationQueue", {}, id_token=admin.id_token)["entries"]
    mine = [entry for entry in queue if entry["generationId"] in (popular, quiet)]
    assert [(entry["generationId"], entry["reportCount"]) for entry in mine] == [
        (popular, 3),
        (quiet, 1),
    ]
    assert mine[0]["generation"]["userId"] == user.uid
    api.call(
        "moderateGeneration",
        {"generationId": popular, "action": "hide", "reason": "reported"},
        id_token=admin.id_token,
    )
    queue = api.call("getModerationQueue", {}, id_token=admin.id_token)["entries"]
    assert popular not in [entry["generationId"] for entry in queue]


def test_reporting_an_unknown_generation_is_not_found(api: CallableClient, user: AppUser) -> None:
    with pytest.raises(CallableError) as refused:
        api.call(
            "reportGeneration",
            {"generationId": "no-such-generation", "reason": "?"},
            id_token=user.id_token,
        )
    assert refused.value.code == "not-found"


# 4. Engines are a closed list.


def test_an_unknown_engine_is_invalid_argument(
    api: CallableClient, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    with pytest.raises(CallableError) as refused:
        api.call("trackGeneration", {**TEXT, "engine": "engine-00042"}, id_token=user.id_token)
    assert refused.value.code == "invalid-argument"
    assert refused.value.details["errors"][0]["field"] == "engine"
    assert feed_count(firestore_admin, user.uid) == 0
    assert start(api, user, engine="mistral")


# 6. The payment webhook.


def post_signed(suite: EmulatorSuite, event: dict[str, Any], header: str | None = None) -> Any:
    body = json.dumps(event).encode()
    signature = header or sign(local_webhook_secret(), int(time.time()), body)
    return requests.post(
        suite.function_url("paymentWebhook"),
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
        timeout=30,
    )


@pytest.mark.parametrize(
    "header",
    [
        "t=\u00b2,v1=" + "0" * 64,  # a superscript two: str.isdigit() says yes
        "t=1700000000,v1=\u00e9",
        "t=" + "9" * 400 + ",v1=" + "0" * 64,
        # Arabic-Indic digits, as the UTF-8 bytes a client may send (headers are Latin-1).
        "t=1700000000,v1=" + ("\u0661" * 64).encode().decode("latin-1"),
        "t=,v1=",
        ",,,=,",
    ],
)
def test_malformed_signatures_are_401_and_reveal_nothing(
    suite: EmulatorSuite, user: AppUser, firestore_admin: FirestoreAdminRest, header: str
) -> None:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "credits.purchased",
        "data": {"userId": user.uid, "credits": 5},
    }
    reply = post_signed(suite, event, header)
    assert reply.status_code == 401
    assert reply.json() == {"error": "invalid signature"}
    assert firestore_admin.get(f"billing/{user.uid}") is None


def test_a_signed_but_deeply_nested_event_is_400_not_500(suite: EmulatorSuite) -> None:
    body = ('{"id": "evt_deep_0001", "data": ' + "[" * 5000 + "]" * 5000 + "}").encode()
    reply = requests.post(
        suite.function_url("paymentWebhook"),
        data=body,
        headers={SIGNATURE_HEADER: sign(local_webhook_secret(), int(time.time()), body)},
        timeout=30,
    )
    assert reply.status_code == 400


def test_a_purchase_for_no_account_is_parked_not_credited(
    suite: EmulatorSuite, firestore_admin: FirestoreAdminRest
) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    event = {
        "id": event_id,
        "type": "credits.purchased",
        "data": {"userId": "ghost", "credits": 50},
    }
    for _ in range(2):  # the provider's retry parks nothing twice
        reply = post_signed(suite, event)
        assert reply.status_code == 200
        assert reply.json()["parked"] is True
        assert reply.json()["applied"] is False
    parked = firestore_admin.get(f"payment_reviews/{event_id}")
    assert (value(parked, "userId"), value(parked, "credits")) == ("ghost", 50)
    assert firestore_admin.get("billing/ghost") is None


# 7. Display names.


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("\uff21\uff24\uff2d\uff29\uff2e", "Anonymous creator"),  # full-width ADMIN
        ("Mod.e.rator", "Anonymous creator"),
        ("grace\uff20example.com", "Anonymous creator"),  # a full-width at sign
        ("Ada\u202eecalevoL", "AdaecalevoL"),  # a right-to-left override, dropped
        ("Grace\u200b \u200bHopper", "Grace Hopper"),  # zero-width spaces
        ("\U0001d406\U0001d42b\U0001d41a\U0001d41c\U0001d41e", "Grace"),  # bold letters
    ],
)
def test_display_names_cannot_impersonate(
    api: CallableClient,
    auth: AuthEmulator,
    firestore_admin: FirestoreAdminRest,
    name: str,
    shown: str,
) -> None:
    creator = auth.create_user(display_name=name)
    generation_id = start(api, creator)
    assert value(firestore_admin.get(f"live_generations/{generation_id}"), "userName") == shown
