"""Outbound webhooks: the events, their payloads, and when a failed delivery is
tried again. Pure rules.

Every event is written in the same transaction as the change it reports (a
transactional outbox, ``webhook_events``), then delivered at least once to
every enabled endpoint subscribed to its type, each delivery under the
event's id as ``webhook-id``, so a receiver deduplicates. Payloads follow the
Standard Webhooks shape, ``{type, timestamp, data}``; ``data`` holds what the
public feed shows of a generation (never an email), and its outputs when the
generation is public.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from generations_live.domain.documents import public_view
from generations_live.domain.lifecycle import Status

# Endpoints a deployment may register: each event fans out to all of them.
MAX_ENDPOINTS: Final = 20
# The first part of an endpoint's answer kept in its delivery log.
ANSWER_EXCERPT_BYTES: Final = 1024
# How long a delivery attempt may hold a delivery (longer than any request).
ATTEMPT_LEASE: Final = timedelta(seconds=30)
# An event the fast path has not fanned out by then is the sweeper's.
FAN_OUT_GRACE: Final = timedelta(seconds=15)


class EventType(enum.StrEnum):
    GENERATION_STARTED = "generation.started"
    GENERATION_COMPLETED = "generation.completed"
    GENERATION_FAILED = "generation.failed"
    GENERATION_CANCELED = "generation.canceled"
    GENERATION_HIDDEN = "generation.hidden"
    CREDITS_LOW = "credits.low"
    CREDITS_PURCHASED = "credits.purchased"
    # Sent by ``webhooks test`` to one endpoint; nobody subscribes to it.
    TEST = "webhook.test"


SUBSCRIBABLE: Final = tuple(event for event in EventType if event is not EventType.TEST)
_ENDED: Final = {
    Status.COMPLETED: EventType.GENERATION_COMPLETED,
    Status.FAILED: EventType.GENERATION_FAILED,
    Status.CANCELED: EventType.GENERATION_CANCELED,
}


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed: kept for a replay


def ended_event(status: Status) -> EventType:
    return _ENDED[status]


def generation_data(
    generation_id: str, public: dict[str, Any], outputs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A generation as a webhook tells of it: its public fields, and the outputs of
    a public one (a private generation's public half carries no prompt)."""
    data = public_view(generation_id, public)
    if outputs is not None and public.get("prompt") is not None:
        data["outputs"] = outputs
    return data


def payload(event_type: str, timestamp: datetime, data: dict[str, Any]) -> bytes:
    """The request body: the same bytes on every attempt of an event."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp.isoformat(), "data": data},
        default=_json_value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True)
class RetryPolicy:
    """The waits before each retry of a failed delivery, then the dead letter.

    The first retry comes within seconds (a blip costs seconds, not an hour),
    later ones back off to about a day in all. Each wait but the first is
    spread by ``jitter`` either way, so endpoints coming back are not met by
    every retry at once.
    """

    delays: Sequence[timedelta] = (
        timedelta(seconds=5),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=6),
    )
    jitter: float = 0.2
    # Dead letters since the endpoint's last success before it is disabled.
    failure_budget: int = 10

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_attempt(
        self, attempts_made: int, now: datetime, rng: random.Random
    ) -> datetime | None:
        """When to try again after ``attempts_made`` failed attempts; None when none is left."""
        if attempts_made < 1 or attempts_made > len(self.delays):
            return None
        delay = self.delays[attempts_made - 1]
        if attempts_made > 1 and self.jitter:
            delay *= 1 + rng.uniform(-self.jitter, self.jitter)
        return now + delay


@dataclass(frozen=True)
class DeliveryConfig:
    """How deliveries are made: the retry policy, and whether loopback is allowed
    (on the emulators only)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    allow_loopback: bool = False
    events_kept_for: timedelta = timedelta(days=7)


def parse_delays(spec: str) -> tuple[timedelta, ...]:
    """Parse WEBHOOK_RETRY_DELAYS: durations like ``5s,1m,5m,30m,2h``, 1 to 20 of them."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    delays: list[timedelta] = []
    for part in filter(None, (piece.strip() for piece in spec.split(","))):
        number, unit = part[:-1], part[-1:]
        if unit not in units or not number.isdigit() or int(number) < 1:
            raise ValueError(f"WEBHOOK_RETRY_DELAYS: {part!r} is not a duration like 30s, 5m, 2h")
        delays.append(timedelta(seconds=int(number) * units[unit]))
    if not 1 <= len(delays) <= 20:
        raise ValueError("WEBHOOK_RETRY_DELAYS must list 1 to 20 durations")
    return tuple(delays)


def succeeded(status_code: int | None) -> bool:
    """A delivery succeeds on any 2xx answer; a redirect is not followed, so it fails."""
    return status_code is not None and 200 <= status_code < 300
