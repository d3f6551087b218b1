"""Abuse controls: who gets free credits, and how fast one account may start
generations. Pure rules: no I/O.

Both answers come from what the start transaction reads anyway (the caller's
token claims and their billing document), so enforcing them adds no read and
no document another user's start could contend on.

- **Free credits and the overdraft** go to accounts that cost an attacker
  something to make: not anonymous guests, and for email-and-password
  accounts only a verified email. Others spend only what they bought or were
  granted.
- **A token bucket** per user limits starts per minute, with a burst; and a
  **cap** limits the user's generations processing at once. Accounts that
  bought or were granted credits, and admins, get the higher ("trusted") tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from generations_live.domain.errors import ResourceExhausted
from generations_live.domain.identity import Caller

ANONYMOUS_PROVIDER = "anonymous"
PASSWORD_PROVIDER = "password"  # noqa: S105 - a provider's name, not a secret
# Providers whose accounts cost a real identity: a phone number, a mailbox or
# an account at a large identity provider; "custom" tokens are minted by the
# platform's own server, which vouches for them.
DEFAULT_FREE_CREDIT_PROVIDERS = (
    PASSWORD_PROVIDER,
    "phone",
    "google.com",
    "apple.com",
    "microsoft.com",
    "github.com",
    "facebook.com",
    "twitter.com",
    "custom",
)
# A refusal for too many generations at once cannot know when one ends: this
# is when a client should look again.
CONCURRENCY_RETRY_SECONDS = 5
RATE_LIMITED = "rate"
TOO_MANY_PROCESSING = "concurrency"


@dataclass(frozen=True)
class FreeCreditRule:
    """Which accounts get daily free credits and the overdraft."""

    providers: frozenset[str] = frozenset(DEFAULT_FREE_CREDIT_PROVIDERS)
    require_verified_email: bool = True

    def refusal(self, caller: Caller) -> str | None:
        """Why ``caller`` gets no free credits, as a sentence for people; None if they do."""
        provider = caller.sign_in_provider
        if provider == ANONYMOUS_PROVIDER:
            return "Guest accounts get no free credits: sign in with an account to get them."
        if provider is None or provider not in self.providers:
            return "Accounts of this sign-in method get no free credits."
        if (
            provider == PASSWORD_PROVIDER
            and self.require_verified_email
            and not caller.email_verified
        ):
            return "Verify your email address to get free credits."
        return None


@dataclass(frozen=True)
class Tier:
    """How fast an account may start generations."""

    name: str
    starts_per_minute: int
    burst: int
    max_processing: int

    def __post_init__(self) -> None:
        if self.starts_per_minute < 1 or self.burst < 1 or self.max_processing < 1:
            raise ValueError(f"the {self.name} tier's rate, burst and cap must be at least 1")


@dataclass(frozen=True)
class RateLimits:
    standard: Tier = Tier("standard", starts_per_minute=10, burst=20, max_processing=5)
    trusted: Tier = Tier("trusted", starts_per_minute=120, burst=240, max_processing=50)


@dataclass(frozen=True)
class StartBucket:
    """A user's start allowance, kept on their billing document.

    ``tokens`` were left at ``at``; the bucket refills continuously up to the
    tier's burst. A bucket never used is full.
    """

    tokens: float | None = None
    at: datetime | None = None

    def level(self, tier: Tier, now: datetime) -> float:
        if self.tokens is None or self.at is None:
            return float(tier.burst)
        elapsed = max(0.0, (now - self.at).total_seconds())
        return min(float(tier.burst), self.tokens + elapsed * tier.starts_per_minute / 60)


def tier_for(caller: Caller, limits: RateLimits, *, paid_or_granted: bool) -> Tier:
    """Admins and accounts that bought or were granted credits are trusted."""
    return limits.trusted if caller.is_admin or paid_or_granted else limits.standard


def admit_start(bucket: StartBucket, processing: int, tier: Tier, now: datetime) -> StartBucket:
    """The bucket after one more start, or ``ResourceExhausted`` (with
    ``reason`` and ``retryAfterSeconds``) when the tier allows none now."""
    if processing >= tier.max_processing:
        raise ResourceExhausted(
            f"{processing} generations are still processing: at most {tier.max_processing} "
            "may run at once",
            details={
                "reason": TOO_MANY_PROCESSING,
                "retryAfterSeconds": CONCURRENCY_RETRY_SECONDS,
                "limit": tier.max_processing,
                "tier": tier.name,
            },
        )
    level = bucket.level(tier, now)
    if level < 1:
        rate_per_second = tier.starts_per_minute / 60
        wait = math.ceil((1 - level) / rate_per_second)
        raise ResourceExhausted(
            f"too many generations started: at most {tier.starts_per_minute} a minute "
            f"(bursts of {tier.burst})",
            details={
                "reason": RATE_LIMITED,
                "retryAfterSeconds": max(1, wait),
                "limit": tier.starts_per_minute,
                "burst": tier.burst,
                "tier": tier.name,
            },
        )
    return StartBucket(tokens=level - 1, at=now)


def parse_providers(spec: str) -> frozenset[str]:
    """The comma-separated sign-in providers (Firebase's ``sign_in_provider`` values)."""
    return frozenset(part.strip() for part in spec.split(",") if part.strip())
