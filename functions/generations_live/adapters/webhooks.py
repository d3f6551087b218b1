"""The webhook endpoints, the outbox's events, their deliveries and the delivery
log, in Firestore.

``webhook_events/{eventId}`` is the outbox: the tracking and billing
transactions create its documents. Fanning an event out creates one
``webhook_deliveries/{eventId}_{endpointId}`` per subscribed endpoint (in a
transaction that also marks the event, so it happens once). A delivery
attempt claims its delivery for a short lease, sends outside any
transaction, then records the outcome, and a log entry under
``webhook_endpoints/{endpointId}/attempts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from generations_live.adapters.collections import (
    NOTIFICATIONS,
    SUBSCRIPTIONS_DOCUMENT,
    USERS,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_EVENTS,
    WEBHOOK_SUBSCRIPTIONS,
)
from generations_live.adapters.firestore import run_transaction
from generations_live.domain.errors import ResourceExhausted
from generations_live.domain.notifications import Notice
from generations_live.domain.webhooks import MAX_ENDPOINTS, DeliveryState

_CONTENDED = "too many concurrent changes to webhook deliveries; retry shortly"
# How long the delivery log keeps an attempt.
ATTEMPTS_KEPT_FOR = timedelta(days=30)


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    secret: str
    previous_secret: str | None = None
    previous_secret_until: datetime | None = None
    created_by: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secret, and during a rotation's grace period the previous one too."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            secrets.append(self.previous_secret)
        return secrets


def _endpoint(snapshot: Any) -> Endpoint:
    fields = snapshot.to_dict() or {}
    return Endpoint(
        endpoint_id=snapshot.id,
        url=str(fields.get("url", "")),
        events=tuple(fields.get("events") or ()),
        enabled=bool(fields.get("enabled", False)),
        secret=str(fields.get("secret", "")),
        previous_secret=fields.get("previousSecret"),
        previous_secret_until=fields.get("previousSecretUntil"),
        created_by=fields.get("createdBy"),
        fields=fields,
    )


def _why_undeliverable(event: Any, endpoint: Any) -> str | None:
    if not event.exists:
        return "the event expired"
    if not endpoint.exists:
        return "the endpoint was removed"
    if not (endpoint.to_dict() or {}).get("enabled"):
        return "the endpoint is disabled"
    return None


@dataclass(frozen=True)
class Claimed:
    """A delivery this attempt holds: its event and endpoint, and its attempt number."""

    delivery_id: str
    attempt: int
    event_id: str
    event: dict[str, Any]
    endpoint: Endpoint


@dataclass(frozen=True)
class Outcome:
    """What an attempt found, to record."""

    status_code: int | None
    latency_ms: float
    excerpt: str
    error: str | None
    delivered: bool
    next_attempt_at: datetime | None  # None and not delivered: the dead letter
    failure_budget: int


@dataclass(frozen=True)
class Recorded:
    state: DeliveryState
    endpoint_disabled: bool


class WebhookStore:
    """Paths, queries and transactions of outbound webhooks."""

    def __init__(self, client: firestore.Client) -> None:
        self._client = client

    def _endpoint_ref(self, endpoint_id: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(WEBHOOK_ENDPOINTS).document(
            endpoint_id
        )
        return ref

    def _event_ref(self, event_id: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(WEBHOOK_EVENTS).document(
            event_id
        )
        return ref

    def _delivery_ref(self, delivery_id: str) -> firestore.DocumentReference:
        ref: firestore.DocumentReference = self._client.collection(WEBHOOK_DELIVERIES).document(
            delivery_id
        )
        return ref

    # Endpoints.

    def endpoints(self) -> list[Endpoint]:
        """Every registered endpoint (a few: at most MAX_ENDPOINTS are enabled)."""
        return [
            _endpoint(snapshot) for snapshot in self._client.collection(WEBHOOK_ENDPOINTS).stream()
        ]

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        snapshot = self._endpoint_ref(endpoint_id).get()
        return _endpoint(snapshot) if snapshot.exists else None

    def _enabled_events(
        self, transaction: firestore.Transaction, changed: str, fields: dict[str, Any]
    ) -> tuple[int, list[str]]:
        """How many endpoints are enabled and the events they subscribe to, once
        endpoint ``changed`` has ``fields`` (read in the transaction)."""
        enabled = self._client.collection(WEBHOOK_ENDPOINTS).where(
            filter=FieldFilter("enabled", "==", True)
        )
        endpoints = {
            snapshot.id: snapshot.to_dict() or {}
            for snapshot in transaction.get(enabled.select(["events"]))
        }
        endpoints[changed] = {**endpoints.get(changed, {}), **fields}
        live = [e for e in endpoints.values() if e.get("enabled", True)]
        return len(live), sorted({event for e in live for event in e.get("events") or ()})

    def _save_subscriptions(self, transaction: firestore.Transaction, events: list[str]) -> None:
        transaction.set(
            self._client.collection(WEBHOOK_SUBSCRIPTIONS).document(SUBSCRIPTIONS_DOCUMENT),
            {"events": events, "updatedAt": firestore.SERVER_TIMESTAMP},
        )

    def create_endpoint(self, fields: dict[str, Any]) -> str:
        """Register an endpoint, refused past MAX_ENDPOINTS enabled ones; its events
        are written to the outbox from then on."""
        ref: firestore.DocumentReference = self._client.collection(WEBHOOK_ENDPOINTS).document()

        def create(transaction: firestore.Transaction) -> str:
            count, events = self._enabled_events(transaction, ref.id, fields)
            if count > MAX_ENDPOINTS:
                raise ResourceExhausted(
                    f"at most {MAX_ENDPOINTS} webhook endpoints may be enabled: disable one first",
                    details={"limit": MAX_ENDPOINTS},
                )
            transaction.create(ref, {**fields, "createdAt": firestore.SERVER_TIMESTAMP})
            self._save_subscriptions(transaction, events)
            return str(ref.id)

        return run_transaction(self._client, create, contended=_CONTENDED)

    def update_endpoint(self, endpoint_id: str, fields: dict[str, Any]) -> None:
        """Change an endpoint, and the events the outbox keeps with it."""
        ref = self._endpoint_ref(endpoint_id)

        def update(transaction: firestore.Transaction) -> None:
            _, events = self._enabled_events(transaction, endpoint_id, fields)
            transaction.update(ref, {**fields, "updatedAt": firestore.SERVER_TIMESTAMP})
            self._save_subscriptions(transaction, events)

        run_transaction(self._client, update, contended=_CONTENDED)

    def attempts(self, endpoint_id: str, limit: int) -> list[dict[str, Any]]:
        """The endpoint's newest delivery attempts."""
        log = (
            self._endpoint_ref(endpoint_id)
            .collection(WEBHOOK_ATTEMPTS)
            .order_by("at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [snapshot.to_dict() or {} for snapshot in log.stream()]

    # Events and their fan-out.

    def event(self, event_id: str) -> dict[str, Any] | None:
        snapshot = self._event_ref(event_id).get()
        return (snapshot.to_dict() or {}) if snapshot.exists else None

    def new_event(self, fields: dict[str, Any]) -> str:
        """An event created outside any change (``webhooks test``)."""
        ref: firestore.DocumentReference = self._client.collection(WEBHOOK_EVENTS).document()
        ref.create({**fields, "createdAt": firestore.SERVER_TIMESTAMP})
        return str(ref.id)

    def events_not_fanned_out(self, created_before: datetime, limit: int) -> list[str]:
        """Events the fast path has not fanned out, oldest first."""
        waiting = (
            self._client.collection(WEBHOOK_EVENTS)
            .where(filter=FieldFilter("fannedOut", "==", False))
            .where(filter=FieldFilter("createdAt", "<", created_before))
            .order_by("createdAt")
            .limit(limit)
        )
        return [snapshot.id for snapshot in waiting.select([]).stream()]

    def fan_out(
        self, event_id: str, endpoints: Sequence[Endpoint], now: datetime, expire_at: datetime
    ) -> list[str]:
        """Create the event's deliveries, once: the ids of its pending deliveries."""
        event_ref = self._event_ref(event_id)

        def fan(transaction: firestore.Transaction) -> list[str]:
            snapshot = event_ref.get(transaction=transaction)
            if not snapshot.exists:
                return []
            fields = snapshot.to_dict() or {}
            if fields.get("fannedOut"):
                return []
            event_type = str(fields.get("type"))
            created: list[str] = []
            for endpoint in endpoints:
                if not endpoint.enabled or event_type not in endpoint.events:
                    continue
                delivery_id = f"{event_id}_{endpoint.endpoint_id}"
                transaction.create(
                    self._delivery_ref(delivery_id),
                    {
                        "eventId": event_id,
                        "endpointId": endpoint.endpoint_id,
                        "type": event_type,
                        "state": DeliveryState.PENDING.value,
                        "attempts": 0,
                        "nextAttemptAt": now,
                        "leaseUntil": None,
                        "createdAt": firestore.SERVER_TIMESTAMP,
                        "expireAt": expire_at,
                    },
                )
                created.append(delivery_id)
            transaction.update(event_ref, {"fannedOut": True, "deliveries": len(created)})
            return created

        return run_transaction(self._client, fan, contended=_CONTENDED)

    def address(self, event_id: str, endpoint: Endpoint, now: datetime, expire_at: datetime) -> str:
        """A delivery of the event to one endpoint, pending now (a test event, or a
        replay): created, or set pending again with its attempts kept."""
        delivery_id = f"{event_id}_{endpoint.endpoint_id}"
        event = self.event(event_id) or {}
        self._delivery_ref(delivery_id).set(
            {
                "eventId": event_id,
                "endpointId": endpoint.endpoint_id,
                "type": event.get("type"),
                "state": DeliveryState.PENDING.value,
                "nextAttemptAt": now,
                "leaseUntil": None,
                "expireAt": expire_at,
            },
            merge=True,
        )
        return delivery_id

    def deliveries_of(self, event_id: str) -> list[tuple[str, dict[str, Any]]]:
        found = self._client.collection(WEBHOOK_DELIVERIES).where(
            filter=FieldFilter("eventId", "==", event_id)
        )
        return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in found.stream()]

    def due_deliveries(self, now: datetime, limit: int) -> list[str]:
        """Pending deliveries whose next attempt is due, most overdue first."""
        due = (
            self._client.collection(WEBHOOK_DELIVERIES)
            .where(filter=FieldFilter("state", "==", DeliveryState.PENDING.value))
            .where(filter=FieldFilter("nextAttemptAt", "<=", now))
            .order_by("nextAttemptAt")
            .limit(limit)
        )
        return [snapshot.id for snapshot in due.select([]).stream()]

    # Attempts.

    def claim(self, delivery_id: str, now: datetime, lease: timedelta) -> Claimed | None:
        """Hold a due delivery for one attempt; None when it is not due, done or held."""
        delivery_ref = self._delivery_ref(delivery_id)

        def take(transaction: firestore.Transaction) -> Claimed | None:
            snapshot = delivery_ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            delivery = snapshot.to_dict() or {}
            lease_until = delivery.get("leaseUntil")
            next_at = delivery.get("nextAttemptAt")
            if (
                delivery.get("state") != DeliveryState.PENDING.value
                or (next_at is not None and next_at > now)
                or (lease_until is not None and lease_until > now)
            ):
                return None
            event_id = str(delivery["eventId"])
            event = self._event_ref(event_id).get(transaction=transaction)
            endpoint = self._endpoint_ref(str(delivery["endpointId"])).get(transaction=transaction)
            gone = _why_undeliverable(event, endpoint)
            if gone is not None:
                # Kept as a dead letter, so a replay can send it once the cause is fixed.
                transaction.update(
                    delivery_ref,
                    {"state": DeliveryState.DEAD.value, "deadAt": now, "lastError": gone},
                )
                return None
            attempt = int(delivery.get("attempts", 0)) + 1
            transaction.update(delivery_ref, {"leaseUntil": now + lease, "attempts": attempt})
            return Claimed(
                delivery_id=delivery_id,
                attempt=attempt,
                event_id=event_id,
                event=event.to_dict() or {},
                endpoint=_endpoint(endpoint),
            )

        return run_transaction(self._client, take, contended=_CONTENDED)

    def record(
        self, claimed: Claimed, outcome: Outcome, now: datetime, notify: Notice | None
    ) -> Recorded:
        """Record an attempt's outcome and log it; disable an endpoint out of budget.

        The endpoint document is written only when its state changes (a dead
        letter, or the first success after some), never per attempt: many
        deliveries to one endpoint do not contend on it.
        """
        delivery_ref = self._delivery_ref(claimed.delivery_id)
        endpoint_ref = self._endpoint_ref(claimed.endpoint.endpoint_id)
        log_ref = endpoint_ref.collection(WEBHOOK_ATTEMPTS).document()

        def write(transaction: firestore.Transaction) -> Recorded:
            endpoint = endpoint_ref.get(transaction=transaction)
            endpoint_fields = endpoint.to_dict() or {} if endpoint.exists else {}
            dead_since_success = int(endpoint_fields.get("deadSinceSuccess", 0))
            disabling = (
                endpoint.exists
                and not outcome.delivered
                and outcome.next_attempt_at is None
                and bool(endpoint_fields.get("enabled"))
                and dead_since_success + 1 >= outcome.failure_budget
            )
            # Only a disabling attempt reads the other endpoints (every read
            # precedes the writes): the subscriptions it leaves behind.
            events_without: list[str] = []
            if disabling:
                _, events_without = self._enabled_events(
                    transaction, claimed.endpoint.endpoint_id, {"enabled": False}
                )
            if outcome.delivered:
                state = DeliveryState.DELIVERED
                update: dict[str, Any] = {
                    "state": state.value,
                    "deliveredAt": now,
                    "leaseUntil": None,
                }
                if endpoint.exists and dead_since_success:
                    transaction.update(endpoint_ref, {"deadSinceSuccess": 0, "lastSuccessAt": now})
            elif outcome.next_attempt_at is not None:
                state = DeliveryState.PENDING
                update = {"nextAttemptAt": outcome.next_attempt_at, "leaseUntil": None}
            else:
                state = DeliveryState.DEAD
                update = {"state": state.value, "deadAt": now, "leaseUntil": None}
                if endpoint.exists:
                    dead_since_success += 1
                    endpoint_update: dict[str, Any] = {"deadSinceSuccess": dead_since_success}
                    if disabling:
                        endpoint_update |= {
                            "enabled": False,
                            "disabledAt": now,
                            "disabledReason": f"{dead_since_success} deliveries failed every "
                            "attempt since the last success",
                        }
                        owner = endpoint_fields.get("createdBy")
                        if notify is not None and isinstance(owner, str) and owner:
                            transaction.create(
                                self._client.collection(USERS)
                                .document(owner)
                                .collection(NOTIFICATIONS)
                                .document(),
                                {
                                    **notify.document(),
                                    "createdAt": firestore.SERVER_TIMESTAMP,
                                    "expireAt": now + ATTEMPTS_KEPT_FOR,
                                },
                            )
                    transaction.update(endpoint_ref, endpoint_update)
                    if disabling:
                        self._save_subscriptions(transaction, events_without)
            transaction.update(
                delivery_ref,
                {**update, "lastStatus": outcome.status_code, "lastError": outcome.error},
            )
            transaction.create(
                log_ref,
                {
                    "eventId": claimed.event_id,
                    "deliveryId": claimed.delivery_id,
                    "type": claimed.event.get("type"),
                    "attempt": claimed.attempt,
                    "statusCode": outcome.status_code,
                    "latencyMs": round(outcome.latency_ms, 1),
                    "answer": outcome.excerpt,
                    "error": outcome.error,
                    "delivered": outcome.delivered,
                    "at": now,
                    "expireAt": now + ATTEMPTS_KEPT_FOR,
                },
            )
            return Recorded(state=state, endpoint_disabled=disabling)

        return run_transaction(self._client, write, contended=_CONTENDED)

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        snapshot = self._delivery_ref(delivery_id).get()
        return (snapshot.to_dict() or {}) if snapshot.exists else None
