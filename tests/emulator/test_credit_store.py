"""Credits through the use cases against the real Firestore emulator: holds,
charges, releases, soft-block, daily credits, grants, purchases, the sweeper
and the ledger audit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters.collections import REQUEST_CLAIMS
from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.errors import NotFound, PermissionDenied, ResourceExhausted
from generations_live.domain.identity import Caller
from generations_live.domain.models import (
    GetUserUsageRequest,
    GrantCreditsRequest,
    PurchaseData,
    QuoteGenerationRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.services import billing, tracking
from harness.callers import member
from harness.state import every_document

SETTINGS = settings()
ALICE = member("alice", {"name": "Alice"})
WORKER = member("worker-1", {"worker": True})
ADMIN = member("admin-1", {"admin": True})


@pytest.fixture
def store(db: firestore.Client) -> GenerationStore:
    return GenerationStore(db)


def now() -> datetime:
    return datetime.now(UTC)


def track(store: GenerationStore, caller: Caller = ALICE, **fields: Any) -> dict[str, Any]:
    request = TrackGenerationRequest.model_validate({"type": "image", "prompt": "a fox", **fields})
    return tracking.track_generation(store, caller, request, SETTINGS, now())


def report(store: GenerationStore, generation_id: str, status: str) -> None:
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": status}
    )
    tracking.update_generation_status(store, WORKER, request, now())


def account(db: firestore.Client, uid: str = "alice") -> dict[str, Any]:
    return db.document(f"billing/{uid}").get().to_dict() or {}


def ledger(db: firestore.Client, uid: str = "alice") -> dict[str, dict[str, Any]]:
    return {
        entry.id: entry.to_dict() or {} for entry in db.collection(f"billing/{uid}/ledger").stream()
    }


def audit_is_clean(store: GenerationStore) -> bool:
    audit = billing.audit_ledgers(store)
    return bool(audit["accountsChecked"] > 0 and audit["mismatches"] == {})


def test_start_reserves_and_completion_charges(
    db: firestore.Client, store: GenerationStore
) -> None:
    started = track(store, batchSize=2)
    assert (started["cost"], started["balance"], started["available"]) == (10, 10, 0)
    assert started["priceVersion"] == SETTINGS.prices.version
    assert (account(db)["balance"], account(db)["held"]) == (10, 10)
    gid = started["generationId"]
    assert set(ledger(db)) == {f"daily_free_{now().date()}", f"hold_{gid}"}
    private = db.document(f"users/alice/generations/{gid}").get().to_dict() or {}
    assert (private["cost"], private["priceVersion"]) == (10, SETTINGS.prices.version)
    public = db.document(f"live_generations/{gid}").get().to_dict() or {}
    assert "cost" not in public
    report(store, gid, "completed")
    report(store, gid, "completed")  # a worker reporting twice is charged once
    assert (account(db)["balance"], account(db)["held"]) == (0, 0)
    assert ledger(db)[f"charge_{gid}"]["amount"] == -10
    assert audit_is_clean(store)


@pytest.mark.parametrize("outcome", ["failed", "canceled"])
def test_failure_and_cancel_release_the_hold(
    db: firestore.Client, store: GenerationStore, outcome: str
) -> None:
    gid = track(store, type="video")["generationId"]
    report(store, gid, outcome)
    assert (account(db)["balance"], account(db)["held"]) == (10, 0)
    assert ledger(db)[f"release_{gid}"]["amount"] == 10
    assert audit_is_clean(store)


def test_soft_block_then_refusal_writes_nothing(
    db: firestore.Client, store: GenerationStore
) -> None:
    assert "warning" not in track(store, type="video")
    soft = track(store, type="video")
    assert soft["warning"]["code"] == "low-credits"
    assert soft["available"] == -10
    before = every_document(db)
    with pytest.raises(ResourceExhausted) as refused:
        track(store, type="text")
    assert refused.value.details is not None
    assert refused.value.details["shortfall"] == 1
    assert every_document(db) == before
    assert audit_is_clean(store)


def test_retry_of_a_started_generation_reserves_nothing(
    db: firestore.Client, store: GenerationStore
) -> None:
    first = track(store, requestId="req-credit-1")
    again = track(store, requestId="req-credit-1")
    assert again["generationId"] == first["generationId"]
    assert again["cost"] == first["cost"]
    assert account(db)["held"] == 5


def test_a_refused_start_can_be_retried_with_its_request_id_once_paid_for(
    db: firestore.Client, store: GenerationStore
) -> None:
    track(store, type="video", batchSize=2)  # 20 held of 10: the overdraft is used up
    before = every_document(db)
    with pytest.raises(ResourceExhausted):
        track(store, type="image", requestId="req-after-purchase")
    # The refusal released its request claim along with writing nothing.
    assert every_document(db) == before
    billing.apply_purchase(
        store,
        "evt_topup_0001",
        PurchaseData.model_validate({"userId": "alice", "credits": 50}),
        {"alice"}.__contains__,
    )
    started = track(store, type="image", requestId="req-after-purchase")
    assert started["status"] == "processing"
    assert list(db.collection(REQUEST_CLAIMS).stream()) == []
    assert audit_is_clean(store)


def test_twenty_concurrent_retries_hold_once_and_answer_alike(
    db: firestore.Client, store: GenerationStore
) -> None:
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda _: track(store, type="video", requestId="req-burst-20"), range(20))
        )
    assert {answer["generationId"] for answer in answers} == {answers[0]["generationId"]}
    assert {(answer["cost"], answer["status"]) for answer in answers} == {(10, "processing")}
    kinds = sorted(entry["kind"] for entry in ledger(db).values())
    assert kinds == ["daily_free", "hold"]
    assert (account(db)["balance"], account(db)["held"]) == (10, 10)
    assert list(db.collection(REQUEST_CLAIMS).stream()) == []
    assert audit_is_clean(store)


def test_concurrent_starts_never_spend_beyond_the_allowance(
    db: firestore.Client, store: GenerationStore
) -> None:
    # 10 daily credits cover two images of 5 (N = 2), the allowance two more;
    # 3N = 6 try at once. The emulator resolves each conflict in about 2 s.
    outcomes: list[str] = []

    def attempt(_: int) -> None:
        try:
            track(store)
            outcomes.append("accepted")
        except ResourceExhausted:
            outcomes.append("refused")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(attempt, range(6)))
    assert sorted(outcomes) == ["accepted"] * 4 + ["refused"] * 2
    assert account(db)["held"] == 20
    assert audit_is_clean(store)


def test_daily_free_credits_come_once_a_day(db: firestore.Client, store: GenerationStore) -> None:
    track(store, type="text")
    track(store, type="text")
    daily = [entry for entry in ledger(db).values() if entry["kind"] == "daily_free"]
    assert [entry["amount"] for entry in daily] == [10]


def test_quote_writes_nothing(db: firestore.Client, store: GenerationStore) -> None:
    before = every_document(db)
    request = QuoteGenerationRequest.model_validate(
        {"type": "image", "mode": "edit", "batchSize": 4}
    )
    quote = billing.quote_generation(store, ALICE, request, SETTINGS, now())
    assert quote == {
        "cost": 12,
        "balance": 10,
        "held": 0,
        "available": 10,
        "canAfford": True,
        "softBlocked": True,
        "remainingAfter": -2,
        "priceVersion": SETTINGS.prices.version,
        "freeCredits": {
            "qualifies": True,
            "reason": None,
            "dailyFloor": 10,
            "overdraftAllowance": 10,
        },
    }
    assert every_document(db) == before


def test_grants_and_purchases_apply_once(db: firestore.Client, store: GenerationStore) -> None:
    grant = GrantCreditsRequest.model_validate(
        {"userId": "alice", "amount": 50, "reason": "welcome", "grantId": "grant-0001"}
    )
    accounts = {"alice"}.__contains__
    assert billing.grant_credits(store, ADMIN, grant, accounts)["applied"]
    assert not billing.grant_credits(store, ADMIN, grant, accounts)["applied"]
    with pytest.raises(PermissionDenied):
        billing.grant_credits(store, ALICE, grant, accounts)
    before = every_document(db)
    to_nobody = grant.model_copy(update={"user_id": "nobody", "grant_id": "grant-0002"})
    with pytest.raises(NotFound):
        billing.grant_credits(store, ADMIN, to_nobody, accounts)
    assert every_document(db) == before
    purchase = PurchaseData.model_validate({"userId": "alice", "credits": 100})
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(
            pool.map(
                lambda _: billing.apply_purchase(store, "evt_0001", purchase, accounts), range(3)
            )
        )
    assert sorted(outcomes) == ["applied", "replayed", "replayed"]
    assert account(db)["balance"] == 150
    assert account(db)["lifetime"] == {"grant": 50, "purchase": 100}
    assert audit_is_clean(store)
    # A purchase for a user id with no account is parked, never credited, once.
    before = every_document(db)
    orphan = PurchaseData.model_validate({"userId": "nobody", "credits": 100})
    for _ in range(2):
        outcome = billing.apply_purchase(store, "evt_orphan_01", orphan, accounts)
        assert outcome is billing.PurchaseOutcome.PARKED
    added = {path: doc for path, doc in every_document(db).items() if path not in before}
    assert list(added) == ["payment_reviews/evt_orphan_01"]
    assert added["payment_reviews/evt_orphan_01"]["userId"] == "nobody"
    assert not db.document("billing/nobody").get().exists


def test_sweeper_fails_stuck_generations_and_releases(
    db: firestore.Client, store: GenerationStore
) -> None:
    stuck = track(store)["generationId"]
    finished = track(store, type="text")["generationId"]
    report(store, finished, "completed")
    later = now() + SETTINGS.processing_timeout + timedelta(minutes=1)
    assert tracking.sweep_stuck_generations(store, SETTINGS, now()) == 0
    assert tracking.sweep_stuck_generations(store, SETTINGS, later) == 1
    assert tracking.sweep_stuck_generations(store, SETTINGS, later) == 0
    public = db.document(f"live_generations/{stuck}").get().to_dict() or {}
    assert (public["status"], public["errorCode"]) == ("failed", "timeout")
    assert account(db)["held"] == 0
    assert f"release_{stuck}" in ledger(db)
    assert audit_is_clean(store)


def test_usage_summary(store: GenerationStore) -> None:
    done = track(store, type="text", prompt="a haiku")["generationId"]
    report(store, done, "completed")
    failed = track(store, type="text", prompt="a haiku")["generationId"]
    report(store, failed, "failed")
    track(store, type="audio", prompt="a song")
    summary = billing.user_usage(
        store, ALICE, GetUserUsageRequest.model_validate({"days": 7}), now()
    )
    assert summary["today"] == {"generations": 3, "credits": 1}
    assert summary["byType"]["text"] == 2
    assert summary["successRate"] == 0.5
    assert summary["topPrompts"][0] == {"prompt": "a haiku", "count": 2}
    assert (summary["balance"], summary["held"]) == (9, 2)


def test_audit_names_a_tampered_account(db: firestore.Client, store: GenerationStore) -> None:
    track(store)
    db.document("billing/alice").update({"balance": 1000})
    assert billing.audit_ledgers(store)["mismatches"] == {
        "alice": ["balance is 1000 but the ledger sums to 10"]
    }
