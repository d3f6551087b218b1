"""The settings the rules run with, as plain values (adapters.config reads them from params)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from generations_live.domain.credits import CreditPolicy, PriceTable
from generations_live.domain.identity import DEFAULT_RESERVED_NAMES
from generations_live.domain.lifecycle import GenerationType
from generations_live.domain.limits import FreeCreditRule, RateLimits

# The engines the demo traffic and the default configuration use.
DEFAULT_ENGINE_LIST = (
    "gemini",
    "runware",
    "ideogram",
    "flux-1.1",
    "sora",
    "klingai",
    "runway",
    "elevenlabs",
    "suno",
    "mistral",
)
# Each engine is a key of the daily analytics maps: few enough to stay small.
MAX_ENGINES = 200
_ENGINE_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+"
)


@dataclass(frozen=True)
class OutputPolicy:
    """Where outputs may live, from configuration."""

    bucket: str = ""
    # Exact host names (lower case) an https output may name.
    https_hosts: frozenset[str] = field(default_factory=frozenset)
    # Plain http from loopback: on the emulators only, where the demo worker serves its files.
    allow_loopback_http: bool = False


@dataclass(frozen=True)
class Settings:
    """What the rules need from configuration."""

    retention: timedelta
    default_engines: dict[GenerationType, str]
    prices: PriceTable
    credit_policy: CreditPolicy
    processing_timeout: timedelta
    rollup_lag: timedelta
    # The engines a request may name: a closed list, so no client can grow the
    # analytics maps keyed by engine.
    engines: frozenset[str] = frozenset(DEFAULT_ENGINE_LIST)
    reserved_names: tuple[str, ...] = DEFAULT_RESERVED_NAMES
    free_credits: FreeCreditRule = field(default_factory=FreeCreditRule)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    outputs: OutputPolicy = field(default_factory=OutputPolicy)
    # How long a signed URL to an output object stays valid.
    output_url_ttl: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.default_engines.values()) - self.engines)
        if unknown:
            raise ValueError(f"DEFAULT_ENGINES names engines that ENGINES lacks: {unknown}")


def parse_default_engines(spec: str) -> dict[GenerationType, str]:
    """Parse ``type=engine`` pairs; every generation type must get an engine."""
    engines: dict[GenerationType, str] = {}
    for pair in filter(None, (part.strip() for part in spec.split(","))):
        type_name, _, engine = pair.partition("=")
        engines[GenerationType(type_name.strip())] = engine.strip()
    missing = set(GenerationType) - set(engines)
    if missing:
        raise ValueError(f"DEFAULT_ENGINES has no engine for {sorted(missing)}")
    return engines


def parse_engines(spec: str) -> frozenset[str]:
    """Parse the comma-separated engine list: slugs, at least one, at most MAX_ENGINES."""
    engines = [part.strip() for part in spec.split(",") if part.strip()]
    bad = [engine for engine in engines if not _ENGINE_SLUG.fullmatch(engine)]
    if bad or not engines or len(set(engines)) > MAX_ENGINES:
        raise ValueError(f"ENGINES must be 1 to {MAX_ENGINES} engine slugs; bad: {bad}")
    return frozenset(engines)


def parse_hosts(spec: str) -> frozenset[str]:
    """Parse the comma-separated host names https outputs may name (lower case, no port)."""
    hosts = [part.strip().lower() for part in spec.split(",") if part.strip()]
    bad = [host for host in hosts if not _HOST_NAME.fullmatch(host)]
    if bad:
        raise ValueError(f"OUTPUT_URL_HOSTS must be host names; bad: {bad}")
    return frozenset(hosts)
