"""Deployment configuration, read through ``firebase_functions.params``.

Every tunable lives here so handlers carry no literals. Values are read at
call time (params resolve from the environment), never at import.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from firebase_functions import params

from generations_live.domain.credits import CreditPolicy, parse_price_table
from generations_live.domain.identity import DEFAULT_RESERVED_NAMES
from generations_live.domain.limits import (
    DEFAULT_FREE_CREDIT_PROVIDERS,
    FreeCreditRule,
    RateLimits,
    Tier,
    parse_providers,
)
from generations_live.domain.notifications import DEFAULT_LOW_CREDITS_THRESHOLD, NoticePolicy
from generations_live.domain.settings import (
    DEFAULT_ENGINE_LIST,
    MAX_ENGINES,
    OutputPolicy,
    Settings,
    parse_default_engines,
    parse_engines,
    parse_hosts,
)
from generations_live.domain.webhooks import DeliveryConfig, RetryPolicy, parse_delays

GENERATION_RETENTION_DAYS = params.IntParam(
    "GENERATION_RETENTION_DAYS",
    default=30,
    description="Days a feed and history document is kept before cleanup or TTL removes it.",
)
DEFAULT_ENGINES = params.StringParam(
    "DEFAULT_ENGINES",
    default="image=gemini,video=sora,audio=elevenlabs,text=gemini",
    description="Engine recorded when a request names none, as type=engine pairs.",
)
ENGINES = params.StringParam(
    "ENGINES",
    default=",".join(DEFAULT_ENGINE_LIST),
    description="The engines a generation may name, comma-separated slugs (at most "
    f"{MAX_ENGINES}); every DEFAULT_ENGINES value must be one of them.",
)
RESERVED_DISPLAY_NAMES = params.StringParam(
    "RESERVED_DISPLAY_NAMES",
    default=",".join(DEFAULT_RESERVED_NAMES),
    description="Display names shown as the neutral fallback instead (compared ignoring case, "
    "spaces and punctuation), comma-separated.",
)
PRICE_TABLE = params.StringParam(
    "PRICE_TABLE",
    default="text=1,image=5,image.edit=3,video=10,audio=2",
    description="Credits per unit, as type[.mode]=credits pairs; a batch costs batchSize units.",
)
PRICE_TABLE_VERSION = params.StringParam(
    "PRICE_TABLE_VERSION",
    default="2026-01",
    description="Recorded on every generation; change it whenever PRICE_TABLE changes.",
)
OVERDRAFT_ALLOWANCE = params.IntParam(
    "OVERDRAFT_ALLOWANCE",
    default=10,
    description="Credits a generation may go below zero available (soft-block) before refusal.",
)
DAILY_FREE_CREDITS = params.IntParam(
    "DAILY_FREE_CREDITS",
    default=10,
    description="Balance a user is topped up to on their first priced request of a UTC day.",
)
# Written as WEBHOOK_RETRY_DELAYS takes them: 5s,1m,... (the domain's default policy).
_DEFAULT_DELAYS = ("5s", "1m", "5m", "30m", "2h", "5h", "10h", "6h")
# The tiers' defaults are the domain's.
_STANDARD, _TRUSTED = RateLimits().standard, RateLimits().trusted
FREE_CREDIT_PROVIDERS = params.StringParam(
    "FREE_CREDIT_PROVIDERS",
    default=",".join(DEFAULT_FREE_CREDIT_PROVIDERS),
    description="Sign-in providers whose accounts get daily free credits and the overdraft, "
    "comma-separated (anonymous guests never do).",
)
FREE_CREDITS_REQUIRE_VERIFIED_EMAIL = params.BoolParam(
    "FREE_CREDITS_REQUIRE_VERIFIED_EMAIL",
    default=True,
    description="Email-and-password accounts get free credits only once their email is verified.",
)
START_RATE_PER_MINUTE = params.IntParam(
    "START_RATE_PER_MINUTE",
    default=_STANDARD.starts_per_minute,
    description="Generations a user may start per minute, sustained (token bucket refill).",
)
START_BURST = params.IntParam(
    "START_BURST",
    default=_STANDARD.burst,
    description="Generations a user may start at once after a quiet spell (token bucket size).",
)
MAX_PROCESSING_PER_USER = params.IntParam(
    "MAX_PROCESSING_PER_USER",
    default=_STANDARD.max_processing,
    description="Generations one user may have processing at once.",
)
TRUSTED_START_RATE_PER_MINUTE = params.IntParam(
    "TRUSTED_START_RATE_PER_MINUTE",
    default=_TRUSTED.starts_per_minute,
    description="START_RATE_PER_MINUTE for admins and accounts that bought or were granted "
    "credits.",
)
TRUSTED_START_BURST = params.IntParam(
    "TRUSTED_START_BURST",
    default=_TRUSTED.burst,
    description="START_BURST for admins and accounts that bought or were granted credits.",
)
TRUSTED_MAX_PROCESSING_PER_USER = params.IntParam(
    "TRUSTED_MAX_PROCESSING_PER_USER",
    default=_TRUSTED.max_processing,
    description="MAX_PROCESSING_PER_USER for admins and accounts that bought or were granted "
    "credits.",
)
PROCESSING_TIMEOUT_MINUTES = params.IntParam(
    "PROCESSING_TIMEOUT_MINUTES",
    default=30,
    description="Minutes after which the sweeper fails a generation still processing.",
)
ROLLUP_LAG_SECONDS = params.IntParam(
    "ROLLUP_LAG_SECONDS",
    default=10,
    description="Seconds the analytics rollup stays behind now, to absorb clock skew.",
)
OUTPUTS_BUCKET = params.StringParam(
    "OUTPUTS_BUCKET",
    default="",
    description="The Cloud Storage bucket gs:// outputs live in (under generations/{uid}/"
    "{generationId}/); empty for the project's default bucket.",
)
OUTPUT_URL_HOSTS = params.StringParam(
    "OUTPUT_URL_HOSTS",
    default="",
    description="Host names an https output may name (a CDN, a provider's delivery host), "
    "comma-separated; empty allows none.",
)
OUTPUT_URL_TTL_MINUTES = params.IntParam(
    "OUTPUT_URL_TTL_MINUTES",
    default=15,
    description="Minutes a signed URL to a gs:// output stays valid.",
)
LOW_CREDITS_THRESHOLD = params.IntParam(
    "LOW_CREDITS_THRESHOLD",
    default=DEFAULT_LOW_CREDITS_THRESHOLD,
    description="A user is told (notification, credits.low webhook) when their available "
    "credits fall below this, once until credits are added.",
)
WEBHOOK_RETRY_DELAYS = params.StringParam(
    "WEBHOOK_RETRY_DELAYS",
    default=",".join(_DEFAULT_DELAYS),
    description="Waits before each retry of a failed webhook delivery (30s, 5m, 2h ...); "
    "after the last, the delivery is a dead letter.",
)
WEBHOOK_FAILURE_BUDGET = params.IntParam(
    "WEBHOOK_FAILURE_BUDGET",
    default=RetryPolicy().failure_budget,
    description="Dead-lettered deliveries since its last success after which a webhook "
    "endpoint is disabled (and the admin who registered it notified).",
)
PAYMENT_WEBHOOK_SECRET = params.SecretParam(
    "PAYMENT_WEBHOOK_SECRET",
    description="Shared secret of the payment provider's HMAC-SHA256 webhook signatures.",
)
# How far a webhook's signed timestamp may be from now: limits replays of a
# captured request to this window (the event id stops the rest).
WEBHOOK_TOLERANCE = timedelta(minutes=5)


# A V4 signed URL is valid for at most seven days.
MAX_SIGNED_URL_MINUTES = 7 * 24 * 60


def on_emulators() -> bool:
    """Whether this code runs against the emulators: inside the Functions emulator
    (it sets FUNCTIONS_EMULATOR), or an operator command pointed at the Firestore
    emulator. Loopback outputs and webhook receivers are allowed only then."""
    return os.environ.get("FUNCTIONS_EMULATOR") == "true" or bool(
        os.environ.get("FIRESTORE_EMULATOR_HOST")
    )


def outputs_bucket() -> str:
    """OUTPUTS_BUCKET, or the project's default bucket as the runtime describes it."""
    if OUTPUTS_BUCKET.value:
        return OUTPUTS_BUCKET.value
    # FIREBASE_CONFIG is JSON on Cloud Functions and the emulator (a file name elsewhere).
    described = os.environ.get("FIREBASE_CONFIG", "")
    firebase_config = json.loads(described) if described.lstrip().startswith("{") else {}
    bucket = firebase_config.get("storageBucket") if isinstance(firebase_config, dict) else None
    if isinstance(bucket, str) and bucket:
        return bucket
    return f"{os.environ.get('GCLOUD_PROJECT', '')}.firebasestorage.app"


def notice_policy() -> NoticePolicy:
    threshold = LOW_CREDITS_THRESHOLD.value
    if threshold < 0:
        raise ValueError("LOW_CREDITS_THRESHOLD must not be negative")
    return NoticePolicy(
        low_credits_threshold=threshold,
        notifications_kept_for=timedelta(days=max(1, GENERATION_RETENTION_DAYS.value)),
    )


def delivery_config() -> DeliveryConfig:
    """How webhook deliveries are retried; loopback endpoints on the emulators only."""
    budget = WEBHOOK_FAILURE_BUDGET.value
    if budget < 1:
        raise ValueError("WEBHOOK_FAILURE_BUDGET must be at least 1")
    return DeliveryConfig(
        policy=RetryPolicy(delays=parse_delays(WEBHOOK_RETRY_DELAYS.value), failure_budget=budget),
        allow_loopback=on_emulators(),
    )


def reserved_display_names() -> tuple[str, ...]:
    """RESERVED_DISPLAY_NAMES alone: what every callable needs to name its caller."""
    return tuple(filter(None, (name.strip() for name in RESERVED_DISPLAY_NAMES.value.split(","))))


def settings() -> Settings:
    """The settings in force for this invocation."""
    retention_days = GENERATION_RETENTION_DAYS.value
    if retention_days < 1:
        raise ValueError("GENERATION_RETENTION_DAYS must be at least 1")
    policy = CreditPolicy(
        overdraft_allowance=OVERDRAFT_ALLOWANCE.value, daily_free_floor=DAILY_FREE_CREDITS.value
    )
    if policy.overdraft_allowance < 0 or policy.daily_free_floor < 0:
        raise ValueError("OVERDRAFT_ALLOWANCE and DAILY_FREE_CREDITS must not be negative")
    timeout_minutes = PROCESSING_TIMEOUT_MINUTES.value
    if timeout_minutes < 1:
        raise ValueError("PROCESSING_TIMEOUT_MINUTES must be at least 1")
    ttl_minutes = OUTPUT_URL_TTL_MINUTES.value
    if not 1 <= ttl_minutes <= MAX_SIGNED_URL_MINUTES:
        raise ValueError(f"OUTPUT_URL_TTL_MINUTES must be 1 to {MAX_SIGNED_URL_MINUTES}")
    return Settings(
        retention=timedelta(days=retention_days),
        default_engines=parse_default_engines(DEFAULT_ENGINES.value),
        engines=parse_engines(ENGINES.value),
        reserved_names=reserved_display_names(),
        prices=parse_price_table(PRICE_TABLE_VERSION.value, PRICE_TABLE.value),
        credit_policy=policy,
        processing_timeout=timedelta(minutes=timeout_minutes),
        rollup_lag=timedelta(seconds=max(0, ROLLUP_LAG_SECONDS.value)),
        free_credits=FreeCreditRule(
            providers=parse_providers(FREE_CREDIT_PROVIDERS.value),
            require_verified_email=FREE_CREDITS_REQUIRE_VERIFIED_EMAIL.value,
        ),
        outputs=OutputPolicy(
            bucket=outputs_bucket(),
            https_hosts=parse_hosts(OUTPUT_URL_HOSTS.value),
            allow_loopback_http=on_emulators(),
        ),
        output_url_ttl=timedelta(minutes=ttl_minutes),
        rate_limits=RateLimits(
            standard=Tier(
                _STANDARD.name,
                starts_per_minute=START_RATE_PER_MINUTE.value,
                burst=START_BURST.value,
                max_processing=MAX_PROCESSING_PER_USER.value,
            ),
            trusted=Tier(
                _TRUSTED.name,
                starts_per_minute=TRUSTED_START_RATE_PER_MINUTE.value,
                burst=TRUSTED_START_BURST.value,
                max_processing=TRUSTED_MAX_PROCESSING_PER_USER.value,
            ),
        ),
    )
