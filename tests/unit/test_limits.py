"""The abuse controls' rules: free-credit standing, tiers and the start bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from generations_live.domain.credits import Account, EntryKind, apply_entry
from generations_live.domain.errors import ResourceExhausted
from generations_live.domain.identity import caller_from_claims
from generations_live.domain.limits import (
    CONCURRENCY_RETRY_SECONDS,
    FreeCreditRule,
    RateLimits,
    StartBucket,
    Tier,
    admit_start,
    parse_providers,
    tier_for,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIER = Tier("standard", starts_per_minute=6, burst=3, max_processing=2)


def signed_in(provider: str | None, **claims: object) -> dict[str, object]:
    return {"firebase": {"sign_in_provider": provider}, **claims}


@pytest.mark.parametrize(
    ("claims", "qualifies"),
    [
        (signed_in("anonymous"), False),
        (signed_in("password", email_verified=False), False),
        (signed_in("password", email_verified=True), True),
        (signed_in("password", email_verified="true"), False),  # a claim must be exactly true
        (signed_in("google.com"), True),
        (signed_in("phone"), True),
        (signed_in("saml.corp"), False),  # not in the list
        ({}, False),  # no provider at all: not a signed-in user
    ],
)
def test_free_credits_go_to_accounts_that_qualify(
    claims: dict[str, object], qualifies: bool
) -> None:
    caller = caller_from_claims("u1", claims)
    assert (FreeCreditRule().refusal(caller) is None) is qualifies


def test_the_reasons_name_what_to_do() -> None:
    rule = FreeCreditRule()
    guest = rule.refusal(caller_from_claims("u1", signed_in("anonymous")))
    unverified = rule.refusal(caller_from_claims("u1", signed_in("password")))
    assert "Guest" in str(guest)
    assert "Verify your email" in str(unverified)


def test_the_providers_and_the_email_check_are_settings() -> None:
    unverified = caller_from_claims("u1", signed_in("password"))
    assert FreeCreditRule(require_verified_email=False).refusal(unverified) is None
    google_only = FreeCreditRule(providers=parse_providers(" google.com , ,"))
    assert google_only.refusal(unverified) is not None
    assert google_only.refusal(caller_from_claims("u1", signed_in("google.com"))) is None


def test_admins_and_accounts_that_paid_or_were_granted_are_trusted() -> None:
    limits = RateLimits()
    user = caller_from_claims("u1", signed_in("google.com"))
    admin = caller_from_claims("u1", signed_in("google.com", admin=True))
    granted = apply_entry(
        Account(), entry_id="grant_g1", kind=EntryKind.GRANT, amount=5, reason="gift"
    ).account
    assert tier_for(user, limits, paid_or_granted=Account().paid_or_granted) is limits.standard
    assert tier_for(user, limits, paid_or_granted=granted.paid_or_granted) is limits.trusted
    assert tier_for(admin, limits, paid_or_granted=False) is limits.trusted


def test_a_full_bucket_allows_a_burst_then_refuses_with_the_wait() -> None:
    bucket = StartBucket()
    for _ in range(TIER.burst):
        bucket = admit_start(bucket, 0, TIER, NOW)
    with pytest.raises(ResourceExhausted) as refused:
        admit_start(bucket, 0, TIER, NOW)
    # 6 a minute: one token every 10 seconds.
    assert refused.value.details == {
        "reason": "rate",
        "retryAfterSeconds": 10,
        "limit": 6,
        "burst": 3,
        "tier": "standard",
    }


def test_the_bucket_refills_with_time_and_never_past_the_burst() -> None:
    empty = StartBucket(tokens=0.0, at=NOW)
    with pytest.raises(ResourceExhausted) as refused:
        admit_start(empty, 0, TIER, NOW + timedelta(seconds=4))
    assert refused.value.details is not None
    assert refused.value.details["retryAfterSeconds"] == 6
    after = admit_start(empty, 0, TIER, NOW + timedelta(seconds=10))
    assert after.tokens == pytest.approx(0.0)
    rested = StartBucket(tokens=1.0, at=NOW).level(TIER, NOW + timedelta(hours=1))
    assert rested == TIER.burst


def test_a_clock_that_goes_back_refills_nothing() -> None:
    bucket = StartBucket(tokens=0.5, at=NOW)
    assert bucket.level(TIER, NOW - timedelta(minutes=5)) == 0.5


def test_the_concurrency_cap_refuses_before_the_bucket_is_spent() -> None:
    with pytest.raises(ResourceExhausted) as refused:
        admit_start(StartBucket(), TIER.max_processing, TIER, NOW)
    assert refused.value.details is not None
    assert refused.value.details["reason"] == "concurrency"
    assert refused.value.details["retryAfterSeconds"] == CONCURRENCY_RETRY_SECONDS
    assert admit_start(StartBucket(), TIER.max_processing - 1, TIER, NOW).tokens == 2


def test_a_tier_must_allow_something() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Tier("broken", starts_per_minute=0, burst=1, max_processing=1)
