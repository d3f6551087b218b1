"""Concurrent retries, contradictory reports and replays through the callable
protocol, with real Auth-emulator ID tokens, against the Firestore emulator.

Each function runs in its own functions-framework process from the deployed
runtime, serving concurrent requests on threads as a Cloud Run instance does.
The Functions emulator instead starts a Python worker per concurrent request,
and twenty starting at once collide on the ports it picks for them (one takes
another's port and times out); ``test_callables.py`` sends smaller bursts
through it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore
from requests.adapters import HTTPAdapter

from generations_live.domain.signatures import SIGNATURE_HEADER, sign
from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError
from harness.emulators import (
    PROJECT_ID,
    EmulatorSuite,
    FirestoreEmulator,
    FunctionsInstance,
    functions_instance,
)
from harness.state import invariant_violations

BURST = 20
REPORTS = 10
REPLAYS = 10
FUNCTIONS = (
    "trackGeneration",
    "updateGenerationStatus",
    "grantCredits",
    "paymentWebhook",
)
WEBHOOK_SECRET = "concurrency-webhook-secret"


def fire(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``count`` calls at once; each returns its answer or its error code."""

    def one(index: int) -> Any:
        try:
            return call(index)
        except CallableError as refused:
            return refused.code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture(scope="module")
def instance(
    firestore_server: FirestoreEmulator, suite: EmulatorSuite, emulator_logs: Path
) -> Iterator[FunctionsInstance]:
    """The functions on the standalone Firestore emulator (tests wipe it through
    ``db``), trusting the suite's Auth emulator."""
    env = {
        "FIRESTORE_EMULATOR_HOST": firestore_server.address,
        "FIREBASE_AUTH_EMULATOR_HOST": suite.auth_host,
        "GCLOUD_PROJECT": PROJECT_ID,
        "PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    with functions_instance(FUNCTIONS, env=env, threads=BURST, log_dir=emulator_logs) as served:
        yield served


class InstanceClient:
    """The callable protocol, each function at its own process."""

    def __init__(self, instance: FunctionsInstance) -> None:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_maxsize=BURST))
        self._clients = {
            name: CallableClient(instance.base_url(name), session) for name in FUNCTIONS
        }

    def call(self, name: str, data: Any, *, id_token: str) -> Any:
        return self._clients[name].call(name, data, id_token=id_token)


@pytest.fixture
def client(instance: FunctionsInstance, db: firestore.Client) -> InstanceClient:
    """A client of the served functions, on a wiped database (``db``)."""
    del db
    return InstanceClient(instance)


@pytest.fixture
def creator(auth: AuthEmulator) -> AppUser:
    return auth.create_user(display_name="Burst Creator")


def ledger(db: firestore.Client, uid: str) -> Counter[str]:
    """The kinds of a user's ledger entries, counted."""
    return Counter(
        (entry.to_dict() or {})["kind"] for entry in db.collection(f"billing/{uid}/ledger").stream()
    )


def account(db: firestore.Client, uid: str) -> dict[str, Any]:
    return db.document(f"billing/{uid}").get().to_dict() or {}


def test_twenty_concurrent_retries_start_one_generation_with_one_hold(
    client: InstanceClient, creator: AppUser, db: firestore.Client
) -> None:
    start = {"type": "video", "prompt": "a glacier calving", "requestId": uuid.uuid4().hex}
    answers = fire(
        BURST, lambda _: client.call("trackGeneration", start, id_token=creator.id_token)
    )
    assert len({answer["generationId"] for answer in answers}) == 1, answers
    assert len(list(db.collection("live_generations").stream())) == 1
    assert len(list(db.collection(f"users/{creator.uid}/generations").stream())) == 1
    assert ledger(db, creator.uid) == {"daily_free": 1, "hold": 1}
    assert (account(db, creator.uid)["held"], account(db, creator.uid)["balance"]) == (10, 10)
    assert invariant_violations(db) == {}


def test_contradictory_outcomes_at_once_leave_one_terminal_state(
    client: InstanceClient, creator: AppUser, worker: AppUser, db: firestore.Client
) -> None:
    generation_id = client.call(
        "trackGeneration", {"type": "image", "prompt": "a red kite"}, id_token=creator.id_token
    )["generationId"]
    outcomes = ["completed", "failed"] * (REPORTS // 2)

    def report(index: int) -> Any:
        data = {"generationId": generation_id, "status": outcomes[index], "durationMs": 900}
        return client.call("updateGenerationStatus", data, id_token=worker.id_token)["status"]

    answers = Counter(fire(len(outcomes), report))
    public = db.document(f"live_generations/{generation_id}").get().to_dict() or {}
    private = db.document(f"users/{creator.uid}/generations/{generation_id}").get().to_dict()
    winner = public["status"]
    assert winner in {"completed", "failed"}
    assert (private or {})["status"] == winner
    # Every report of the winning outcome succeeds (repeats are no-ops); every
    # report of the other is refused as a transition out of a terminal state.
    loser = "failed" if winner == "completed" else "completed"
    assert answers == {winner: outcomes.count(winner), "failed-precondition": outcomes.count(loser)}
    closing = "charge" if winner == "completed" else "release"
    assert ledger(db, creator.uid) == {"daily_free": 1, "hold": 1, closing: 1}
    assert account(db, creator.uid)["held"] == 0
    assert invariant_violations(db) == {}


def test_concurrent_grant_replays_apply_once(
    client: InstanceClient, creator: AppUser, admin: AppUser, db: firestore.Client
) -> None:
    grant = {"userId": creator.uid, "amount": 40, "reason": "support", "grantId": uuid.uuid4().hex}
    answers = fire(REPLAYS, lambda _: client.call("grantCredits", grant, id_token=admin.id_token))
    assert sorted(answer["applied"] for answer in answers) == [False] * (REPLAYS - 1) + [True]
    assert ledger(db, creator.uid) == {"grant": 1}
    assert account(db, creator.uid)["balance"] == 40
    assert invariant_violations(db) == {}


def test_concurrent_webhook_replays_apply_once(
    instance: FunctionsInstance, creator: AppUser, db: firestore.Client
) -> None:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "credits.purchased",
        "data": {"userId": creator.uid, "credits": 100},
    }
    body = json.dumps(event).encode()

    def deliver(_: int) -> Any:
        signature = sign(WEBHOOK_SECRET, int(time.time()), body)
        reply = requests.post(
            instance.base_url("paymentWebhook"),
            data=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        return reply.json()["applied"]

    assert sorted(fire(REPLAYS, deliver)) == [False] * (REPLAYS - 1) + [True]
    assert ledger(db, creator.uid) == {"purchase": 1}
    assert account(db, creator.uid)["balance"] == 100
    assert invariant_violations(db) == {}
