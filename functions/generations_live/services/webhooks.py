"""Outbound webhooks: admins manage endpoints; events in the outbox are fanned
out to the endpoints that subscribe to them and delivered at least once.

Delivery has two paths, both through ``attempt_delivery``:

- the fast path, ``dispatch_event``, run by ``dispatchWebhookEvent`` as soon
  as an event is written: it fans the event out and sends each delivery at
  once, and tries a failed one again after the first retry delay (seconds);
- the sweeper, ``deliver_due``, run every minute by ``deliverWebhooks``:
  it fans out events the fast path missed (a trigger is delivered at most once:
  the SDK cannot ask for retries of Firestore triggers) and sends every
  delivery whose next attempt is due.

An attempt claims its delivery for a short lease, so both paths can run at
once without sending twice in a row; a receiver still deduplicates on
``webhook-id``, since a send whose outcome was lost is sent again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from firebase_functions import logger

from generations_live.adapters.webhook_sender import DeliveryResult
from generations_live.adapters.webhooks import Claimed, Endpoint, Outcome, WebhookStore
from generations_live.domain import destinations, webhook_signatures, webhooks
from generations_live.domain.errors import InvalidArgument, NotFound, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.models import (
    RegisterWebhookEndpointRequest,
    WebhookEndpointRequest,
)
from generations_live.domain.notifications import Notice, NoticeType
from generations_live.domain.webhooks import DeliveryConfig, DeliveryState

# Sends one request: the destination checked, the body, the signed headers.
Sender = Callable[[destinations.Destination, bytes, Mapping[str, str]], DeliveryResult]
Clock = Callable[[], datetime]
# How long the previous secret keeps signing after a rotation, so receivers
# can switch without missing a delivery.
ROTATION_GRACE = timedelta(hours=24)
# Deliveries the sweeper sends at once, and asks for at a time.
SWEEP_THREADS = 8
SWEEP_BATCH = 100


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise PermissionDenied("only admins may manage webhook endpoints")


def register_endpoint(
    store: WebhookStore,
    caller: Caller,
    request: RegisterWebhookEndpointRequest,
    config: DeliveryConfig,
) -> dict[str, Any]:
    """Register an endpoint; its signing secret is answered here and nowhere else."""
    _require_admin(caller)
    destination = destinations.check_endpoint_url(
        request.url, allow_loopback_http=config.allow_loopback
    )
    secret = webhook_signatures.new_secret()
    events = sorted({event.value for event in request.events})
    endpoint_id = store.create_endpoint(
        {
            "url": destination.url,
            "events": events,
            "secret": secret,
            "enabled": True,
            "createdBy": caller.uid,
            "deadSinceSuccess": 0,
        }
    )
    logger.info("webhook endpoint registered", endpointId=endpoint_id, by=caller.uid)
    return {"endpointId": endpoint_id, "url": destination.url, "events": events, "secret": secret}


def list_endpoints(store: WebhookStore, caller: Caller, *, attempts: int = 5) -> dict[str, Any]:
    """Every endpoint, without its secret, with its newest delivery attempts."""
    _require_admin(caller)
    return {
        "endpoints": [
            {
                "endpointId": endpoint.endpoint_id,
                "url": endpoint.url,
                "events": list(endpoint.events),
                "enabled": endpoint.enabled,
                "createdBy": endpoint.created_by,
                "createdAt": endpoint.fields.get("createdAt"),
                "disabledAt": endpoint.fields.get("disabledAt"),
                "disabledReason": endpoint.fields.get("disabledReason"),
                "recentAttempts": store.attempts(endpoint.endpoint_id, attempts),
            }
            for endpoint in store.endpoints()
        ]
    }


def _existing(store: WebhookStore, endpoint_id: str) -> Endpoint:
    endpoint = store.endpoint(endpoint_id)
    if endpoint is None:
        raise NotFound(
            f"no webhook endpoint with id {endpoint_id!r}", details={"field": "endpointId"}
        )
    return endpoint


def disable_endpoint(
    store: WebhookStore, caller: Caller, request: WebhookEndpointRequest, now: datetime
) -> dict[str, Any]:
    """Stop deliveries to an endpoint (its pending ones become dead letters, replayable)."""
    _require_admin(caller)
    _existing(store, request.endpoint_id)
    store.update_endpoint(
        request.endpoint_id,
        {"enabled": False, "disabledAt": now, "disabledReason": f"disabled by {caller.uid}"},
    )
    return {"endpointId": request.endpoint_id, "enabled": False}


def rotate_secret(
    store: WebhookStore, caller: Caller, request: WebhookEndpointRequest, now: datetime
) -> dict[str, Any]:
    """A new signing secret; the old one signs too for ROTATION_GRACE."""
    _require_admin(caller)
    endpoint = _existing(store, request.endpoint_id)
    secret = webhook_signatures.new_secret()
    until = now + ROTATION_GRACE
    store.update_endpoint(
        request.endpoint_id,
        {"secret": secret, "previousSecret": endpoint.secret, "previousSecretUntil": until},
    )
    return {
        "endpointId": request.endpoint_id,
        "secret": secret,
        "previousSecretValidUntil": until.isoformat(),
    }


@dataclass(frozen=True)
class Courier:
    """Delivers the outbox's events: the store, how to send, and the clock."""

    store: WebhookStore
    config: DeliveryConfig
    send: Sender
    clock: Clock = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)

    def attempt(self, delivery_id: str) -> DeliveryState | None:
        """One attempt at a due delivery; its state after, or None when it was not
        due (delivered, held by another attempt, or waiting for its retry time)."""
        claimed = self.store.claim(delivery_id, self.clock(), webhooks.ATTEMPT_LEASE)
        if claimed is None:
            return None
        result = self._send(claimed)
        delivered = result.error is None and webhooks.succeeded(result.status_code)
        now = self.clock()
        policy = self.config.policy
        next_attempt = None if delivered else policy.next_attempt(claimed.attempt, now, self.rng)
        outcome = Outcome(
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            excerpt=result.excerpt,
            error=result.error,
            delivered=delivered,
            next_attempt_at=next_attempt,
            failure_budget=policy.failure_budget,
        )
        notice = Notice(
            NoticeType.WEBHOOK_DISABLED,
            {"endpointId": claimed.endpoint.endpoint_id, "url": claimed.endpoint.url},
        )
        recorded = self.store.record(claimed, outcome, now, notice)
        if recorded.endpoint_disabled:
            logger.error(
                "webhook endpoint disabled after failing its budget",
                endpointId=claimed.endpoint.endpoint_id,
            )
        return recorded.state

    def _send(self, claimed: Claimed) -> DeliveryResult:
        now = self.clock()
        event = claimed.event
        body = webhooks.payload(
            str(event.get("type")), event.get("createdAt") or now, event.get("data") or {}
        )
        try:
            # Checked again at each attempt: the rules may have changed since registration.
            destination = destinations.check_endpoint_url(
                claimed.endpoint.url, allow_loopback_http=self.config.allow_loopback
            )
        except InvalidArgument as refused:
            return DeliveryResult(
                status_code=None, latency_ms=0.0, excerpt="", error=refused.message, address=None
            )
        headers = webhook_signatures.delivery_headers(
            claimed.endpoint.signing_secrets(now), claimed.event_id, int(now.timestamp()), body
        )
        return self.send(destination, body, headers)

    def dispatch(self, event_id: str) -> dict[str, int]:
        """The fast path: fan an event out and send its deliveries now; a failed one
        is tried once more after the first retry delay, if that is a few seconds."""
        now = self.clock()
        deliveries = self.store.fan_out(
            event_id, self.store.endpoints(), now, now + self.config.events_kept_for
        )
        states = [self.attempt(delivery_id) for delivery_id in deliveries]
        failed = [
            delivery_id
            for delivery_id, state in zip(deliveries, states, strict=True)
            if state is DeliveryState.PENDING
        ]
        delays = self.config.policy.delays
        if failed and delays and delays[0] <= FAST_RETRY_LIMIT:
            time.sleep(delays[0].total_seconds())
            for delivery_id in failed:
                self.attempt(delivery_id)
        return {"deliveries": len(deliveries), "failedFirst": len(failed)}

    def deliver_due(self, *, budget: timedelta) -> dict[str, int]:
        """The sweeper: fan out the events the fast path missed, then send every due
        delivery, a batch at a time, until none is due or the time budget is spent."""
        started = time.monotonic()
        counts = {"fannedOut": 0, "attempted": 0, "delivered": 0, "dead": 0}
        endpoints = self.store.endpoints()
        now = self.clock()
        kept_until = now + self.config.events_kept_for
        for event_id in self.store.events_not_fanned_out(now - webhooks.FAN_OUT_GRACE, SWEEP_BATCH):
            self.store.fan_out(event_id, endpoints, now, kept_until)
            counts["fannedOut"] += 1
        with ThreadPoolExecutor(max_workers=SWEEP_THREADS) as pool:
            while time.monotonic() - started < budget.total_seconds():
                due = self.store.due_deliveries(self.clock(), SWEEP_BATCH)
                if not due:
                    break
                states = list(pool.map(self.attempt, due))
                counts["attempted"] += sum(state is not None for state in states)
                counts["delivered"] += sum(state is DeliveryState.DELIVERED for state in states)
                counts["dead"] += sum(state is DeliveryState.DEAD for state in states)
                if all(state is None for state in states):
                    break  # all held by other attempts: theirs to finish
        return counts

    def send_test(self, endpoint_id: str) -> dict[str, Any]:
        """Send a ``webhook.test`` event to one endpoint now; what its attempt found."""
        endpoint = _existing(self.store, endpoint_id)
        now = self.clock()
        kept_until = now + self.config.events_kept_for
        event_id = self.store.new_event(
            {
                "type": webhooks.EventType.TEST.value,
                "data": {"endpointId": endpoint_id, "message": "a test delivery"},
                "fannedOut": True,
                "expireAt": kept_until,
            }
        )
        state = self.attempt(self.store.address(event_id, endpoint, now, kept_until))
        attempts = self.store.attempts(endpoint_id, 1)
        return {
            "eventId": event_id,
            "state": state.value if state is not None else None,
            "attempt": attempts[0] if attempts else None,
        }


# The longest first retry delay the fast path waits for itself.
FAST_RETRY_LIMIT = timedelta(seconds=10)


def replay(
    store: WebhookStore,
    event_id: str,
    endpoint_id: str | None,
    config: DeliveryConfig,
    now: datetime,
) -> list[str]:
    """Send an event again (same ``webhook-id``) to one endpoint, or to every
    endpoint it was addressed to; the delivery ids, pending now."""
    if store.event(event_id) is None:
        raise NotFound(f"no webhook event with id {event_id!r} (events are kept 7 days)")
    if endpoint_id is not None:
        targets = [_existing(store, endpoint_id)]
    else:
        addressed = {str(fields.get("endpointId")) for _, fields in store.deliveries_of(event_id)}
        targets = [e for e in store.endpoints() if e.endpoint_id in addressed]
    kept_until = now + config.events_kept_for
    return [store.address(event_id, endpoint, now, kept_until) for endpoint in targets]
