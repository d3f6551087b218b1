"""The settings the rules run with, as plain values (adapters.config reads them from params)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from generations_live.domain.credits import CreditPolicy, PriceTable
from generations_live.domain.lifecycle import GenerationType


@dataclass(frozen=True)
class Settings:
    """What the rules need from configuration."""

    retention: timedelta
    default_engines: dict[GenerationType, str]
    prices: PriceTable
    credit_policy: CreditPolicy
    processing_timeout: timedelta
    rollup_lag: timedelta


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
