"""Webhook delivery against the Firestore emulator and a receiver on 127.0.0.1:
the outbox's events are fanned out, signed, retried on the policy's schedule
(a clock the test moves), dead-lettered, and counted; an endpoint out of its
failure budget is disabled and its admin told. The fast path through the
deployed trigger is in tests/e2e/test_webhooks.py."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from standardwebhooks.webhooks import Webhook

from generations_live.adapters import webhook_sender
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.webhooks import WebhookStore
from generations_live.domain.destinations import Destination
from generations_live.domain.models import (
    RegisterWebhookEndpointRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
    WebhookEndpointRequest,
)
from generations_live.domain.webhooks import SUBSCRIBABLE, DeliveryConfig, RetryPolicy
from generations_live.services import tracking, webhooks
from harness.callers import member
from harness.emulators import free_port
from harness.history import unlimited_credits
from harness.receiver import Receiver, always, verified

ADMIN = member("webhook-admin", {"admin": True, "name": "Ada Admin"})
CREATOR = member("creator", {"name": "Grace Hopper", "email": "grace@example.com"})
WORKER = member("worker-1", {"worker": True})
# Short waits, so a test walks the whole schedule by moving the clock.
POLICY = RetryPolicy(
    delays=(timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10)),
    jitter=0.2,
    failure_budget=2,
)
READ_TIMEOUT_S = 1.0


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class World:
    db: firestore.Client
    generations: GenerationStore
    hooks: WebhookStore
    clock: Clock = field(default_factory=Clock)

    def courier(self, policy: RetryPolicy = POLICY) -> webhooks.Courier:
        def send(
            destination: Destination, body: bytes, headers: Mapping[str, str]
        ) -> webhook_sender.DeliveryResult:
            return webhook_sender.deliver(
                destination, body, headers, read_timeout=READ_TIMEOUT_S, allow_loopback=True
            )

        return webhooks.Courier(
            store=self.hooks,
            config=DeliveryConfig(policy=policy, allow_loopback=True),
            send=send,
            clock=self.clock,
            rng=random.Random(7),
        )

    def register(self, url: str, events: tuple[str, ...] = SUBSCRIBABLE) -> dict[str, Any]:
        request = RegisterWebhookEndpointRequest.model_validate(
            {"url": url, "events": list(events)}
        )
        config = DeliveryConfig(policy=POLICY, allow_loopback=True)
        return webhooks.register_endpoint(self.hooks, ADMIN, request, config)

    def start(self, prompt: str = "a lighthouse at dusk") -> str:
        request = TrackGenerationRequest.model_validate({"type": "image", "prompt": prompt})
        answer = tracking.track_generation(
            self.generations, CREATOR, request, unlimited_credits(), datetime.now(UTC)
        )
        generation_id: str = answer["generationId"]
        return generation_id

    def finish(self, generation_id: str, status: str = "completed") -> None:
        report = UpdateGenerationStatusRequest.model_validate(
            {"generationId": generation_id, "status": status}
        )
        tracking.update_generation_status(self.generations, WORKER, report, datetime.now(UTC))

    def events(self) -> dict[str, dict[str, Any]]:
        return {s.id: s.to_dict() or {} for s in self.db.collection("webhook_events").stream()}

    def event_of(self, generation_id: str, event_type: str) -> str:
        (event_id,) = [
            event_id
            for event_id, fields in self.events().items()
            if fields["type"] == event_type and fields["data"].get("id") == generation_id
        ]
        return event_id

    def delivery(self, event_id: str, endpoint_id: str) -> dict[str, Any]:
        fields = self.hooks.delivery(f"{event_id}_{endpoint_id}")
        assert fields is not None
        return fields

    def attempts(self, endpoint_id: str) -> list[dict[str, Any]]:
        return list(reversed(self.hooks.attempts(endpoint_id, 100)))


@pytest.fixture
def world(db: firestore.Client) -> World:
    return World(db=db, generations=GenerationStore(db), hooks=WebhookStore(db))


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    try:
        yield started
    finally:
        for receiver in started:
            receiver.stop()


def test_every_delivery_is_signed_and_carries_the_public_fields(
    world: World, receivers: list[Receiver]
) -> None:
    receiver = Receiver().start()
    receivers.append(receiver)
    endpoint = world.register(receiver.url)
    generation_id = world.start()
    world.finish(generation_id)
    courier = world.courier()
    for event_id in world.events():
        courier.dispatch(event_id)

    got = receiver.by_type()
    assert sorted(got) == ["generation.completed", "generation.started"]
    for event_type, (received,) in got.items():
        payload = verified(endpoint["secret"], received)
        assert payload["type"] == event_type
        assert payload["data"]["id"] == generation_id
        assert payload["data"]["userName"] == "Grace Hopper"
        assert received.webhook_id == world.event_of(generation_id, event_type)
        assert "grace@example.com" not in received.body.decode()
    assert got["generation.completed"][0].payload["data"]["status"] == "completed"


def test_a_receiver_down_at_first_gets_the_event_later_with_the_same_id(
    world: World, receivers: list[Receiver]
) -> None:
    port = free_port()  # nothing listens there yet
    endpoint = world.register(f"http://127.0.0.1:{port}/hooks", ("generation.started",))
    generation_id = world.start()
    event_id = world.event_of(generation_id, "generation.started")
    courier = world.courier()

    assert courier.dispatch(event_id) == {"deliveries": 1, "failedFirst": 1}
    delivery = world.delivery(event_id, endpoint["endpointId"])
    assert (delivery["state"], delivery["attempts"]) == ("pending", 1)
    assert courier.deliver_due(budget=timedelta(seconds=30))["attempted"] == 0  # not due yet

    receiver = Receiver(port=port).start()
    receivers.append(receiver)
    world.clock.advance(POLICY.delays[0])
    assert courier.deliver_due(budget=timedelta(seconds=30))["delivered"] == 1
    (received,) = receiver.requests()
    assert received.webhook_id == event_id
    verified(endpoint["secret"], received)
    delivery = world.delivery(event_id, endpoint["endpointId"])
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 2)
    log = world.attempts(endpoint["endpointId"])
    assert [entry["delivered"] for entry in log] == [False, True]
    assert "refused" in (log[0]["error"] or "").lower() or log[0]["statusCode"] is None


def test_a_500_and_a_slow_receiver_are_retried_until_one_answers(
    world: World, receivers: list[Receiver]
) -> None:
    answers = {1: (500, 0.0), 2: (200, READ_TIMEOUT_S + 1.0)}
    receiver = Receiver(script=lambda n: answers.get(n, (200, 0.0))).start()
    receivers.append(receiver)
    endpoint = world.register(receiver.url, ("generation.started",))
    event_id = world.event_of(world.start(), "generation.started")
    courier = world.courier()

    courier.dispatch(event_id)
    for _ in range(2):
        world.clock.advance(timedelta(minutes=15))
        courier.deliver_due(budget=timedelta(seconds=30))

    assert [r.webhook_id for r in receiver.requests()] == [event_id] * 3
    log = world.attempts(endpoint["endpointId"])
    assert [entry["statusCode"] for entry in log] == [500, None, 200]
    assert "timeout" in log[1]["error"]
    assert log[2]["answer"] == "ok"
    assert world.delivery(event_id, endpoint["endpointId"])["state"] == "delivered"


def test_every_event_of_200_generations_reaches_a_flaky_receiver(
    world: World, receivers: list[Receiver]
) -> None:
    flaky = random.Random(3)
    receiver = Receiver(script=lambda _: (503 if flaky.random() < 0.3 else 204, 0.0)).start()
    receivers.append(receiver)
    world.register(receiver.url)
    for index in range(200):
        generation_id = world.start(f"prompt {index}")
        world.finish(generation_id, ("completed", "failed", "canceled")[index % 3])
    outbox = set(world.events())
    assert len(outbox) == 400  # a start and an end each

    courier = world.courier(replace(POLICY, delays=(timedelta(seconds=30),) * 10))
    world.clock.now = datetime.now(UTC) + timedelta(minutes=1)  # past the fan-out grace
    rounds = 0
    while world.hooks.due_deliveries(world.clock(), 1) or rounds == 0:
        courier.deliver_due(budget=timedelta(minutes=5))
        world.clock.advance(timedelta(minutes=1))
        rounds += 1
        assert rounds < 12, "deliveries still pending after ten retries"

    received_ids = {received.webhook_id for received in receiver.requests()}
    print(
        f"{len(outbox)} events in the outbox, {len(received_ids)} received, "
        f"{len(receiver.requests())} requests ({len(receiver.requests()) - len(received_ids)} "
        f"repeats after failures) in {rounds} sweeps"
    )
    assert received_ids == outbox
    states = {
        (s.to_dict() or {})["state"] for s in world.db.collection("webhook_deliveries").stream()
    }
    assert states == {"delivered"}


def test_an_endpoint_out_of_its_failure_budget_is_disabled_and_its_admin_told(
    world: World, receivers: list[Receiver]
) -> None:
    receiver = Receiver(script=always(500)).start()
    receivers.append(receiver)
    endpoint = world.register(receiver.url, ("generation.started",))
    courier = world.courier(replace(POLICY, delays=(timedelta(seconds=30),), failure_budget=2))
    for _ in range(2):
        event_id = world.event_of(world.start(), "generation.started")
        courier.dispatch(event_id)
        world.clock.advance(timedelta(minutes=1))
        courier.deliver_due(budget=timedelta(seconds=30))
        assert world.delivery(event_id, endpoint["endpointId"])["state"] == "dead"

    stored = world.hooks.endpoint(endpoint["endpointId"])
    assert stored is not None
    assert stored.enabled is False
    assert "2 deliveries failed" in stored.fields["disabledReason"]
    told = [
        s.to_dict() or {}
        for s in world.db.collection(f"users/{ADMIN.uid}/notifications")
        .where(filter=FieldFilter("type", "==", "webhook.disabled"))
        .stream()
    ]
    assert [notice["endpointId"] for notice in told] == [endpoint["endpointId"]]

    # No enabled endpoint wants events any more: the outbox keeps none.
    before, outbox = len(receiver.requests()), set(world.events())
    world.start()
    assert set(world.events()) == outbox
    courier.deliver_due(budget=timedelta(seconds=30))
    assert len(receiver.requests()) == before


def test_the_outbox_keeps_only_the_events_some_endpoint_subscribes_to(
    world: World, receivers: list[Receiver]
) -> None:
    world.start()
    assert world.events() == {}  # no endpoint: nothing written but the change
    receiver = Receiver().start()
    receivers.append(receiver)
    endpoint = world.register(receiver.url, ("generation.completed",))
    generation_id = world.start()
    world.finish(generation_id)
    assert [fields["type"] for fields in world.events().values()] == ["generation.completed"]
    webhooks.disable_endpoint(
        world.hooks,
        ADMIN,
        WebhookEndpointRequest.model_validate({"endpointId": endpoint["endpointId"]}),
        world.clock(),
    )
    world.finish(world.start())
    assert len(world.events()) == 1


def test_a_rotated_secret_and_the_previous_one_both_verify_for_a_day(
    world: World, receivers: list[Receiver]
) -> None:
    receiver = Receiver().start()
    receivers.append(receiver)
    endpoint = world.register(receiver.url, ("generation.started",))
    rotated = webhooks.rotate_secret(
        world.hooks,
        ADMIN,
        WebhookEndpointRequest.model_validate({"endpointId": endpoint["endpointId"]}),
        world.clock(),
    )
    assert rotated["secret"] != endpoint["secret"]
    world.courier().dispatch(world.event_of(world.start(), "generation.started"))
    (received,) = receiver.requests()
    assert len(received.headers["webhook-signature"].split()) == 2
    verified(endpoint["secret"], received)
    verified(rotated["secret"], received)

    world.clock.advance(webhooks.ROTATION_GRACE + timedelta(seconds=1))
    world.courier().dispatch(world.event_of(world.start("again"), "generation.started"))
    latest = receiver.requests()[-1]
    # A day later by the test's clock: the package's freshness check would refuse
    # the timestamp, so the signatures are compared with the package's own.
    signed_at = datetime.fromtimestamp(int(latest.headers["webhook-timestamp"]), UTC)

    def signature(secret: str) -> str:
        signed: str = Webhook(secret).sign(latest.webhook_id, signed_at, latest.body.decode())
        return signed

    assert latest.headers["webhook-signature"] == signature(rotated["secret"])
    assert signature(endpoint["secret"]) != signature(rotated["secret"])


def test_a_dead_letter_is_replayed_under_the_same_id(
    world: World, receivers: list[Receiver]
) -> None:
    port = free_port()
    endpoint = world.register(f"http://127.0.0.1:{port}/hooks", ("generation.started",))
    event_id = world.event_of(world.start(), "generation.started")
    courier = world.courier(replace(POLICY, delays=(timedelta(seconds=30),), failure_budget=5))
    courier.dispatch(event_id)
    world.clock.advance(timedelta(minutes=1))
    courier.deliver_due(budget=timedelta(seconds=30))
    assert world.delivery(event_id, endpoint["endpointId"])["state"] == "dead"

    receiver = Receiver(port=port).start()
    receivers.append(receiver)
    (delivery_id,) = webhooks.replay(world.hooks, event_id, None, courier.config, world.clock())
    assert courier.attempt(delivery_id) is not None
    (received,) = receiver.requests()
    assert received.webhook_id == event_id
    assert world.delivery(event_id, endpoint["endpointId"])["state"] == "delivered"
