"""Credits end to end: quotes, holds, charges, grants, usage, the payment
webhook and the ledger audit, through the deployed functions."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from generations_live.domain.signatures import SIGNATURE_HEADER, sign
from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
)
from harness.emulators import EmulatorSuite, local_webhook_secret, run_operator_command


def track(api: CallableClient, user: AppUser, **fields: Any) -> dict[str, Any]:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    result: dict[str, Any] = api.call("trackGeneration", data, id_token=user.id_token)
    return result


def finish(api: CallableClient, worker: AppUser, generation_id: str, status: str) -> None:
    api.call(
        "updateGenerationStatus",
        {"generationId": generation_id, "status": status},
        id_token=worker.id_token,
    )


def billing_of(firestore_admin: FirestoreAdminRest, uid: str) -> dict[str, int]:
    fields = firestore_admin.get(f"billing/{uid}") or {}
    return {name: int(fields.get(name, {}).get("integerValue", 0)) for name in ("balance", "held")}


def test_quote_start_complete_and_fail(
    api: CallableClient, user: AppUser, worker: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    quote = api.call("quoteGeneration", {"type": "video"}, id_token=user.id_token)
    assert quote == {
        "cost": 10,
        "balance": 10,
        "held": 0,
        "available": 10,
        "canAfford": True,
        "softBlocked": False,
        "remainingAfter": 0,
        "priceVersion": "2026-01",
        "freeCredits": {
            "qualifies": True,
            "reason": None,
            "dailyFloor": 10,
            "overdraftAllowance": 10,
        },
    }
    assert billing_of(firestore_admin, user.uid) == {
        "balance": 0,
        "held": 0,
    }  # quotes write nothing
    completed = track(api, user, type="image")
    failed = track(api, user, type="audio")
    assert billing_of(firestore_admin, user.uid) == {"balance": 10, "held": 7}
    finish(api, worker, completed["generationId"], "completed")
    finish(api, worker, completed["generationId"], "completed")
    finish(api, worker, failed["generationId"], "failed")
    finish(api, worker, failed["generationId"], "failed")
    assert billing_of(firestore_admin, user.uid) == {"balance": 5, "held": 0}
    usage = api.call("getUserUsage", {"days": 1}, id_token=user.id_token)
    assert usage["today"] == {"generations": 2, "credits": 5}
    assert (usage["completed"], usage["failed"], usage["successRate"]) == (1, 1, 0.5)


def test_three_n_concurrent_starts_respect_balance_and_allowance(
    api: CallableClient, auth: AuthEmulator, suite: EmulatorSuite
) -> None:
    spender = auth.create_user(display_name="Burst Spender")
    # The daily 10 credits pay for N = 1 video; the allowance covers one more. Kept
    # small: the emulator settles each conflict on one document in about 2 s.
    outcomes: list[str] = []

    def start(index: int) -> None:
        try:
            answer = track(
                api, spender, type="video", requestId=f"burst-{index:04d}-{uuid.uuid4().hex[:8]}"
            )
            outcomes.append("soft-blocked" if "warning" in answer else "accepted")
        except CallableError as refused:
            outcomes.append(refused.code)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(start, range(3)))
    assert sorted(outcomes) == ["accepted", "resource-exhausted", "soft-blocked"]
    audit = run_operator_command(suite, "audit-ledgers")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["mismatches"] == {}


def test_refusal_for_credits_names_the_shortfall(api: CallableClient, user: AppUser) -> None:
    track(api, user, type="video", batchSize=2)  # 20 of 10 available: soft-blocked
    with pytest.raises(CallableError) as refused:
        track(api, user, type="text")
    assert refused.value.code == "resource-exhausted"
    assert refused.value.details["shortfall"] == 1


def test_grants_are_for_admins_and_apply_once(
    api: CallableClient, user: AppUser, admin: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    grant = {
        "userId": user.uid,
        "amount": 25,
        "reason": "support refund",
        "grantId": uuid.uuid4().hex,
    }
    with pytest.raises(CallableError) as refused:
        api.call("grantCredits", grant, id_token=user.id_token)
    assert refused.value.code == "permission-denied"
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(
            pool.map(lambda _: api.call("grantCredits", grant, id_token=admin.id_token), range(3))
        )
    assert sorted(answer["applied"] for answer in answers) == [False, False, True]
    assert billing_of(firestore_admin, user.uid)["balance"] == 25
    with pytest.raises(CallableError) as unknown:
        api.call("grantCredits", {**grant, "userId": "nobody-here"}, id_token=admin.id_token)
    assert unknown.value.code == "not-found"


def post_event(
    suite: EmulatorSuite,
    event: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    at: int | None = None,
) -> requests.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    timestamp = at if at is not None else int(time.time())
    signature = sign(secret if secret is not None else local_webhook_secret(), timestamp, body)
    return requests.post(
        suite.function_url("paymentWebhook"),
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
        timeout=30,
    )


def test_payment_webhook_applies_each_event_once(
    suite: EmulatorSuite, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "credits.purchased",
        "data": {"userId": user.uid, "credits": 100, "currency": "usd"},
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        replies = list(pool.map(lambda _: post_event(suite, event), range(3)))
    assert [reply.status_code for reply in replies] == [200, 200, 200]
    assert sorted(reply.json()["applied"] for reply in replies) == [False, False, True]
    assert billing_of(firestore_admin, user.uid)["balance"] == 100


@pytest.mark.parametrize(
    ("case", "status"),
    [("wrong-secret", 401), ("stale", 401), ("unsigned", 401), ("not-json", 400), ("no-user", 400)],
)
def test_payment_webhook_refuses_without_writing(
    suite: EmulatorSuite, user: AppUser, firestore_admin: FirestoreAdminRest, case: str, status: int
) -> None:
    event: dict[str, Any] | bytes = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "credits.purchased",
        "data": {"userId": user.uid, "credits": 100},
    }
    before = firestore_admin.collection_group("ledger")
    if case == "wrong-secret":
        reply = post_event(suite, event, secret="not-the-secret")
    elif case == "stale":
        reply = post_event(suite, event, at=int(time.time()) - 600)
    elif case == "unsigned":
        reply = requests.post(suite.function_url("paymentWebhook"), json=event, timeout=30)
    elif case == "not-json":
        reply = post_event(suite, b"{not json")
    else:
        assert isinstance(event, dict)
        reply = post_event(suite, {**event, "data": {"credits": 100}})
    assert reply.status_code == status
    assert firestore_admin.collection_group("ledger") == before
    assert billing_of(firestore_admin, user.uid)["balance"] == 0


def test_payment_webhook_ignores_other_events(suite: EmulatorSuite) -> None:
    reply = post_event(suite, {"id": "evt_refund_0001", "type": "charge.refunded", "data": {}})
    assert (reply.status_code, reply.json()["ignored"]) == (200, True)
