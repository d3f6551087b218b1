"""Rate limits and free-credit standing through the deployed callables, with
the default params: 10 starts a minute in bursts of 20, 5 processing at once,
free credits for verified email accounts and none for guests."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from generations_live.adapters.collections import BILLING, USER_GENERATIONS, USERS
from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError, FirestoreAdminRest

BURST = 20
MAX_PROCESSING = 5


def start(api: CallableClient, user: AppUser, **fields: Any) -> dict[str, Any]:
    data = {"type": "text", "prompt": "a haiku about rain", **fields}
    result: dict[str, Any] = api.call("trackGeneration", data, id_token=user.id_token)
    return result


def cancel(api: CallableClient, user: AppUser, generation_id: str) -> None:
    api.call(
        "updateGenerationStatus",
        {"generationId": generation_id, "status": "canceled"},
        id_token=user.id_token,
    )


def refused(api: CallableClient, user: AppUser) -> CallableError:
    with pytest.raises(CallableError) as refusal:
        start(api, user)
    assert refusal.value.code == "resource-exhausted"
    return refusal.value


def generation_count(firestore_admin: FirestoreAdminRest, uid: str) -> int:
    return firestore_admin.count(USER_GENERATIONS, parent=f"{USERS}/{uid}")


def test_a_burst_over_the_limit_is_refused_with_a_retry_time_and_passes_after_it(
    api: CallableClient, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    began = time.monotonic()
    started = 0
    refusal: CallableError | None = None
    # The bucket refills one start every 6 seconds while the burst runs, so a
    # slow machine may fit a few more than BURST before the first refusal.
    while refusal is None and started <= 2 * BURST:
        try:
            generation = start(api, user)
        except CallableError as error:
            refusal = error
            break
        cancel(api, user, generation["generationId"])
        started += 1
    refused_at = time.monotonic()
    assert refusal is not None
    assert refusal.code == "resource-exhausted"
    assert refusal.details["reason"] == "rate"
    assert BURST <= started <= BURST + 1 + (refused_at - began) / 6
    retry_after = refusal.details["retryAfterSeconds"]
    assert 1 <= retry_after <= 6
    assert generation_count(firestore_admin, user.uid) == started  # the refusal wrote nothing
    deadline = refused_at + retry_after + 10
    while True:
        try:
            start(api, user)
            break
        except CallableError as again:
            reason = again.details["reason"]
        assert reason == "rate"
        assert time.monotonic() < deadline, "still refused long after the retry time"
        time.sleep(0.5)  # the bucket refills with time: nothing to poll but the clock
    # Not before the bucket had refilled one start (less the calls' own latency).
    assert time.monotonic() - refused_at >= retry_after - 1


def test_two_tabs_of_one_user_cannot_exceed_the_processing_cap(
    api: CallableClient, user: AppUser, firestore_admin: FirestoreAdminRest
) -> None:
    def tab(_: int) -> str:
        try:
            start(api, user)
        except CallableError as refusal:
            return f"{refusal.code}: {refusal.details['reason']}"
        return "started"

    with ThreadPoolExecutor(max_workers=2) as tabs:
        outcomes = Counter(tabs.map(tab, range(2 * MAX_PROCESSING)))
    assert outcomes == {
        "started": MAX_PROCESSING,
        "resource-exhausted: concurrency": MAX_PROCESSING,
    }
    assert generation_count(firestore_admin, user.uid) == MAX_PROCESSING


def test_a_guest_gets_no_free_credits_and_no_overdraft(
    api: CallableClient, auth: AuthEmulator, firestore_admin: FirestoreAdminRest
) -> None:
    guest = auth.create_guest()
    quote = api.call("quoteGeneration", {"type": "text"}, id_token=guest.id_token)
    assert (quote["available"], quote["canAfford"]) == (0, False)
    assert quote["freeCredits"]["qualifies"] is False
    assert quote["freeCredits"]["overdraftAllowance"] == 0
    refusal = refused(api, guest)
    assert refusal.details["reason"] == "credits"
    assert refusal.details["noFreeCredits"] == quote["freeCredits"]["reason"]
    assert firestore_admin.get(f"{BILLING}/{guest.uid}") is None
    assert generation_count(firestore_admin, guest.uid) == 0


def test_an_unverified_email_account_waits_for_verification(
    api: CallableClient, auth: AuthEmulator
) -> None:
    unverified = auth.create_user(email_verified=False)
    quote = api.call("quoteGeneration", {"type": "text"}, id_token=unverified.id_token)
    assert quote["freeCredits"]["qualifies"] is False
    assert "Verify your email" in quote["freeCredits"]["reason"]
    assert refused(api, unverified).details["reason"] == "credits"


def test_a_verified_account_gets_free_credits_and_the_overdraft(
    api: CallableClient, user: AppUser
) -> None:
    quote = api.call("quoteGeneration", {"type": "text"}, id_token=user.id_token)
    assert quote["freeCredits"] == {
        "qualifies": True,
        "reason": None,
        "dailyFloor": 10,
        "overdraftAllowance": 10,
    }
    started = start(api, user, batchSize=4)
    assert (started["balance"], started["available"]) == (10, 6)
