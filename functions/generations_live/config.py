"""Deployment configuration, read through ``firebase_functions.params``.

Every tunable lives here so handlers carry no literals. Values are read at
call time (params resolve from the environment), never at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from firebase_functions import params

from generations_live.generation import GenerationType

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


@dataclass(frozen=True)
class TrackingSettings:
    """What the tracking rules need from configuration."""

    retention_days: int
    default_engines: dict[GenerationType, str]


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


def tracking_settings() -> TrackingSettings:
    """The tracking settings in force for this invocation."""
    retention_days = GENERATION_RETENTION_DAYS.value
    if retention_days < 1:
        raise ValueError("GENERATION_RETENTION_DAYS must be at least 1")
    return TrackingSettings(
        retention_days=retention_days,
        default_engines=parse_default_engines(DEFAULT_ENGINES.value),
    )
