"""Rate limits and free-credit standing through the start use case, against the
real Firestore emulator, with a clock the tests move."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.errors import ResourceExhausted
from generations_live.domain.identity import Caller, caller_from_claims
from generations_live.domain.limits import RateLimits, Tier
from generations_live.domain.models import (
    GrantCreditsRequest,
    QuoteGenerationRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.services import billing, tracking
from harness.callers import member
from harness.state import every_document

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = RateLimits(
    standard=Tier("standard", starts_per_minute=6, burst=3, max_processing=2),
    trusted=Tier("trusted", starts_per_minute=60, burst=6, max_processing=4),
)
SETTINGS = replace(settings(), rate_limits=LIMITS)
ALICE = member("alice", {"name": "Alice"})
WORKER = member("worker-1", {"worker": True})
ADMIN = member("admin-1", {"admin": True})
GUEST = caller_from_claims("guest", {"firebase": {"sign_in_provider": "anonymous"}})


@pytest.fixture
def store(db: firestore.Client) -> GenerationStore:
    return GenerationStore(db)


def start(
    store: GenerationStore, caller: Caller = ALICE, at: datetime = NOW, **fields: Any
) -> dict[str, Any]:
    request = TrackGenerationRequest.model_validate({"type": "text", "prompt": "a fox", **fields})
    return tracking.track_generation(store, caller, request, SETTINGS, at)


def finish(store: GenerationStore, generation_id: str, status: str = "completed") -> None:
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": status}
    )
    tracking.update_generation_status(store, WORKER, request, NOW)


def refusal(store: GenerationStore, caller: Caller = ALICE, at: datetime = NOW) -> dict[str, Any]:
    with pytest.raises(ResourceExhausted) as refused:
        start(store, caller, at)
    assert refused.value.details is not None
    return refused.value.details


def processing(db: firestore.Client, uid: str = "alice") -> int:
    fields = db.document(f"billing/{uid}").get().to_dict() or {}
    return int(fields["limits"]["processing"])


def test_a_burst_over_the_limit_is_refused_writes_nothing_and_passes_after_the_wait(
    db: firestore.Client, store: GenerationStore
) -> None:
    for _ in range(3):
        finish(store, start(store)["generationId"])
    before = every_document(db)
    details = refusal(store)
    assert details["reason"] == "rate"
    assert details["retryAfterSeconds"] == 10  # 6 a minute
    assert every_document(db) == before
    assert refusal(store, at=NOW + timedelta(seconds=9))["retryAfterSeconds"] == 1
    assert start(store, at=NOW + timedelta(seconds=10))["status"] == "processing"


def test_a_retry_of_a_start_costs_no_token(store: GenerationStore) -> None:
    first = start(store, requestId="retry-start-1")
    for _ in range(5):
        assert start(store, requestId="retry-start-1") == first
    finish(store, first["generationId"])
    finish(store, start(store)["generationId"])
    start(store)  # three starts: the burst, though eight calls were made
    assert refusal(store)["reason"] == "rate"


def test_the_processing_cap_counts_starts_and_every_kind_of_end(
    db: firestore.Client, store: GenerationStore
) -> None:
    first = start(store)["generationId"]
    second = start(store)["generationId"]
    assert processing(db) == 2
    details = refusal(store)
    assert (details["reason"], details["limit"]) == ("concurrency", 2)
    finish(store, first, "failed")
    assert processing(db) == 1
    third = start(store)["generationId"]
    cancel = UpdateGenerationStatusRequest.model_validate(
        {"generationId": third, "status": "canceled"}
    )
    tracking.update_generation_status(store, ALICE, cancel, NOW)
    # The sweeper goes by the commit times Firestore stamped, which are now.
    later = datetime.now(UTC) + SETTINGS.processing_timeout + timedelta(minutes=1)
    assert tracking.sweep_stuck_generations(store, SETTINGS, later) == 1  # the second
    assert processing(db) == 0
    assert second != third


def test_two_tabs_starting_at_once_never_exceed_the_cap(
    db: firestore.Client, store: GenerationStore
) -> None:
    def tab(_: int) -> str:
        try:
            start(store)
        except ResourceExhausted as refused:
            return str((refused.details or {}).get("reason"))
        return "started"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = Counter(pool.map(tab, range(4)))
    assert outcomes["started"] == 2
    assert outcomes["concurrency"] == 2
    assert processing(db) == 2


def test_a_granted_account_gets_the_trusted_tier(store: GenerationStore) -> None:
    grant = GrantCreditsRequest.model_validate(
        {"userId": "alice", "amount": 50, "grantId": "grant-launch-1", "reason": "launch"}
    )
    billing.grant_credits(store, ADMIN, grant, lambda uid: True)
    for _ in range(4):
        start(store)
    assert refusal(store)["tier"] == "trusted"


def test_a_guest_gets_no_free_credits_and_no_overdraft(
    db: firestore.Client, store: GenerationStore
) -> None:
    quote = billing.quote_generation(
        store, GUEST, QuoteGenerationRequest.model_validate({"type": "text"}), SETTINGS, NOW
    )
    assert quote["available"] == 0
    assert not quote["canAfford"]
    assert quote["freeCredits"]["qualifies"] is False
    assert "Guest" in quote["freeCredits"]["reason"]
    before = every_document(db)
    details = refusal(store, GUEST)
    assert (details["reason"], details["overdraftAllowance"]) == ("credits", 0)
    assert "Guest" in details["noFreeCredits"]
    assert every_document(db) == before


def test_a_guest_spends_what_it_was_granted(store: GenerationStore) -> None:
    grant = GrantCreditsRequest.model_validate(
        {"userId": "guest", "amount": 2, "grantId": "grant-support-2", "reason": "support"}
    )
    billing.grant_credits(store, ADMIN, grant, lambda uid: True)
    started = start(store, GUEST, batchSize=2)
    assert (started["cost"], started["available"]) == (2, 0)
    assert refusal(store, GUEST)["reason"] == "credits"


@pytest.mark.parametrize(
    ("claims", "free"),
    [
        ({"firebase": {"sign_in_provider": "password"}, "email_verified": True}, 10),
        ({"firebase": {"sign_in_provider": "password"}, "email_verified": False}, 0),
        ({"firebase": {"sign_in_provider": "google.com"}}, 10),
    ],
)
def test_free_credits_follow_the_sign_in(
    store: GenerationStore, claims: dict[str, Any], free: int
) -> None:
    caller = caller_from_claims("someone", claims)
    quote = billing.quote_generation(
        store, caller, QuoteGenerationRequest.model_validate({"type": "text"}), SETTINGS, NOW
    )
    assert quote["available"] == free
    assert quote["freeCredits"]["qualifies"] is (free > 0)


def test_a_resent_start_is_answered_even_when_the_bucket_is_empty(
    db: firestore.Client, store: GenerationStore
) -> None:
    first = start(store, requestId="resent-after-burst")
    finish(store, first["generationId"])
    finish(store, start(store)["generationId"])
    finish(store, start(store)["generationId"])
    assert refusal(store)["reason"] == "rate"
    before = every_document(db)
    again = start(store, requestId="resent-after-burst")
    assert again["generationId"] == first["generationId"]
    assert every_document(db) == before
