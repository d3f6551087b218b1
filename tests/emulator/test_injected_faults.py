"""Faults injected into every write path, against the real Firestore emulator.

An exception raised inside the transaction function before and after each of
its writes, commits that abort and are retried, a call that dies holding its
request claim, a worker that reports twice, and scheduled jobs (rollup,
sweeper, cleanup) that die halfway and run again. After each: the ledger audit
passes, the rollups equal a recount of the raw documents, no generation is
missing its public or private half, and no request claim is left behind.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as google_exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_batch import BaseWriteBatch
from google.cloud.firestore_v1.transaction import Transaction

from generations_live.adapters.claims import ClaimPolicy, RequestClaims
from generations_live.adapters.collections import REQUEST_CLAIMS
from generations_live.adapters.config import settings
from generations_live.adapters.firestore import ATTEMPTS_PER_ROUND
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.domain.errors import Contended, FailedPrecondition
from generations_live.domain.models import (
    GrantCreditsRequest,
    PurchaseData,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.services import billing, maintenance, rollups, tracking
from harness.callers import member
from harness.emulators import FirestoreEmulator
from harness.state import every_document, invariant_violations

SETTINGS = settings()
ALICE = member("alice", {"name": "Alice", "email": "alice@example.com"})
WORKER = member("worker-1", {"worker": True})
ADMIN = member("admin-1", {"admin": True})
REQUEST_ID = "req-fault-0001"
WRITE_METHODS = ("create", "set", "update", "delete")
# Enough deaths in a row to show a job resumes from wherever it stopped.
MAX_RUNS = 60
# Claims that a call waits for briefly and that are taken over soon after
# their holder died, so a test sees the takeover in about a second.
QUICK_CLAIMS = ClaimPolicy(wait=timedelta(seconds=0.2), lease=timedelta(seconds=0.6))
TAKEOVER_DEADLINE_S = 30


class InjectedFault(RuntimeError):
    """The failure these tests raise in the middle of a write path."""


@dataclass
class WriteFault:
    """Raise at the ``step``-th document write (counted from 1) of any
    transaction or batch, before it is buffered or just after."""

    step: int
    after: bool = False
    only: Callable[[firestore.DocumentReference], bool] = lambda _: True
    writes: int = 0
    fired: bool = False


@contextmanager
def injected(fault: WriteFault) -> Iterator[WriteFault]:
    with pytest.MonkeyPatch.context() as patch:
        for name in WRITE_METHODS:
            original = getattr(BaseWriteBatch, name)

            def write(
                batch: BaseWriteBatch,
                reference: firestore.DocumentReference,
                *args: Any,
                _original: Callable[..., Any] = original,
                **kwargs: Any,
            ) -> Any:
                if fault.fired or not fault.only(reference):
                    return _original(batch, reference, *args, **kwargs)
                fault.writes += 1
                if fault.writes == fault.step and not fault.after:
                    fault.fired = True
                    raise InjectedFault(f"before write {fault.step} ({reference.path})")
                result = _original(batch, reference, *args, **kwargs)
                if fault.writes == fault.step:
                    fault.fired = True
                    raise InjectedFault(f"after write {fault.step} ({reference.path})")
                return result

            patch.setattr(BaseWriteBatch, name, write)
        yield fault


@contextmanager
def aborted_commits(count: int) -> Iterator[list[int]]:
    """The next ``count`` transaction commits lose a race: Firestore rolls them
    back and answers ABORTED, as it does to the loser of a contended document."""
    aborted = [0]
    commit = Transaction._commit

    def losing_commit(transaction: Transaction) -> Any:
        if aborted[0] < count:
            aborted[0] += 1
            # The server drops the transaction; the client still holds its id,
            # as after a real ABORTED answer.
            transaction._client._firestore_api.rollback(
                request={
                    "database": transaction._client._database_string,
                    "transaction": transaction._id,
                },
                metadata=transaction._client._rpc_metadata,
            )
            raise google_exceptions.Aborted("injected: another transaction won")  # type: ignore[no-untyped-call]
        return commit(transaction)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Transaction, "_commit", losing_commit)
        yield aborted


# --- the write paths: each a setup, and the one call a fault interrupts ------------


def now() -> datetime:
    return datetime.now(UTC)


def start(store: GenerationStore) -> str:
    request = TrackGenerationRequest.model_validate(
        {"type": "video", "prompt": "a fox at dawn", "requestId": REQUEST_ID}
    )
    answer = tracking.track_generation(store, ALICE, request, SETTINGS, now())
    generation_id: str = answer["generationId"]
    return generation_id


def report(store: GenerationStore, generation_id: str, status: str) -> None:
    caller = ALICE if status == "canceled" else WORKER
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": status, "durationMs": 4200}
    )
    tracking.update_generation_status(store, caller, request, now())


def started(store: GenerationStore) -> str:
    return start(store)


def nothing(store: GenerationStore) -> str:
    del store
    return ""


def grant(store: GenerationStore, _: str) -> None:
    request = GrantCreditsRequest.model_validate(
        {"userId": "alice", "amount": 25, "reason": "goodwill", "grantId": "grant-fault-01"}
    )
    billing.grant_credits(store, ADMIN, request, user_exists={"alice"}.__contains__)


def purchase(store: GenerationStore, _: str) -> None:
    data = PurchaseData.model_validate({"userId": "alice", "credits": 100})
    billing.apply_purchase(store, "evt_fault_0001", data, {"alice"}.__contains__)


def sweep(store: GenerationStore, _: str) -> None:
    # Run as if the timeout had passed: generations started now count as stuck.
    later = now() + SETTINGS.processing_timeout + timedelta(minutes=1)
    tracking.sweep_stuck_generations(store, SETTINGS, later)


WRITE_PATHS: dict[str, tuple[Callable[[GenerationStore], str], Callable[..., object]]] = {
    "start": (nothing, lambda store, _: start(store)),
    "complete": (started, lambda store, gid: report(store, gid, "completed")),
    "fail": (started, lambda store, gid: report(store, gid, "failed")),
    "cancel": (started, lambda store, gid: report(store, gid, "canceled")),
    "grant": (nothing, grant),
    "purchase": (nothing, purchase),
    "sweep": (started, sweep),
}


def is_claim(reference: firestore.DocumentReference) -> bool:
    collection: str = reference.parent.id
    return collection == REQUEST_CLAIMS


def in_transaction(reference: firestore.DocumentReference) -> bool:
    """Writes of a path's transaction: the request claim around it is written
    on its own, and its faults are tests of their own."""
    return not is_claim(reference)


def retry_until_taken_over(call: Callable[[], object]) -> int:
    """Retry ``call`` as a client would while a dead call's claim is still
    within its lease (each try is answered ``aborted`` after a short wait);
    returns how many tries were turned away."""
    deadline = time.monotonic() + TAKEOVER_DEADLINE_S
    for turned_away in itertools.count():
        try:
            call()
        except Contended:
            assert time.monotonic() < deadline, "the abandoned claim was never taken over"
            continue
        return turned_away
    raise AssertionError("unreachable")


def rehearsed(
    emulator: FirestoreEmulator, db: firestore.Client, path: str, store: GenerationStore
) -> tuple[Callable[..., object], dict[str, Any], dict[str, Any]]:
    """Run ``path`` once undisturbed for what it should leave, then set it up
    again on a wiped database: the call to disturb (through ``store``, or the
    store it is given), that expected shape, and the documents before the call."""
    setup, call = WRITE_PATHS[path]
    emulator.wipe()
    call(store, setup(store))
    expected = shape(db)
    emulator.wipe()
    context = setup(store)

    def again(through: GenerationStore = store) -> object:
        return call(through, context)

    return again, expected, every_document(db)


def shape(db: firestore.Client) -> dict[str, Any]:
    """What a path leaves behind, without its timestamps: the documents that
    exist and the account's numbers."""
    account = db.document("billing/alice").get().to_dict() or {}
    return {
        "paths": sorted(_named(path, fields) for path, fields in every_document(db).items()),
        "account": {name: account.get(name) for name in ("balance", "held")},
    }


# Collections whose documents get random ids (the webhook outbox, notifications):
# a run and its retry name them differently, so they are told apart by type.
RANDOM_ID_COLLECTIONS = frozenset({"webhook_events", "notifications"})


def names(documents: dict[str, dict[str, Any]]) -> set[str]:
    return {_named(path, fields) for path, fields in documents.items()}


def _named(path: str, fields: dict[str, Any]) -> str:
    collection, _, _ = path.rpartition("/")
    if collection.rpartition("/")[2] in RANDOM_ID_COLLECTIONS:
        return f"{collection}/<{fields.get('type')}>"
    return path


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("path", sorted(WRITE_PATHS))
def test_a_fault_at_any_write_leaves_nothing_and_the_retry_completes(
    emulator: FirestoreEmulator, db: firestore.Client, path: str, when: str
) -> None:
    setup, call = WRITE_PATHS[path]
    store = GenerationStore(db)
    emulator.wipe()
    call(store, setup(store))
    expected = shape(db)
    for step in itertools.count(1):
        emulator.wipe()
        context = setup(store)
        before = every_document(db)
        fault = WriteFault(step, after=when == "after", only=in_transaction)
        with injected(fault), suppress(InjectedFault):
            call(store, context)
        if not fault.fired:
            break  # the path makes fewer writes than ``step``: it ran as usual
        assert every_document(db) == before, f"write {step} of {path} left a trace"
        call(store, context)  # the client's or the scheduler's retry
        assert shape(db) == expected, f"retry after write {step} of {path}"
        assert invariant_violations(db) == {}, f"after a fault at write {step} of {path}"
    writes = step - 1
    print(f"{path}: a fault {when} each of its {writes} writes rolled back; the retry completed")
    assert writes >= 2


@pytest.mark.parametrize("path", sorted(WRITE_PATHS))
def test_commits_that_abort_are_retried_and_apply_once(
    emulator: FirestoreEmulator, db: firestore.Client, path: str
) -> None:
    again, expected, _ = rehearsed(emulator, db, path, GenerationStore(db))
    # More aborts than one round of attempts: the store's backoff rounds take over.
    losses = ATTEMPTS_PER_ROUND + 2
    with aborted_commits(losses) as aborted:
        again()
    assert aborted == [losses]
    assert shape(db) == expected
    assert invariant_violations(db) == {}


@contextmanager
def failing_claim_write(write: str, *, after: bool) -> Iterator[list[str]]:
    """The request claim's ``create`` or ``delete`` raises, before it reaches
    Firestore or just after; yields the paths it failed at."""
    failed: list[str] = []
    original = getattr(firestore.DocumentReference, write)

    def claim_write(reference: firestore.DocumentReference, *args: Any, **kwargs: Any) -> Any:
        if not is_claim(reference):
            return original(reference, *args, **kwargs)
        failed.append(reference.path)
        if not after:
            raise InjectedFault(f"before the claim's {write}")
        original(reference, *args, **kwargs)
        raise InjectedFault(f"after the claim's {write}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(firestore.DocumentReference, write, claim_write)
        yield failed


@pytest.mark.parametrize("write", ["create", "delete"])
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("path", sorted(WRITE_PATHS))
def test_a_fault_at_the_request_claim_is_recovered_by_a_retry(
    emulator: FirestoreEmulator, db: firestore.Client, path: str, when: str, write: str
) -> None:
    again, expected, before = rehearsed(emulator, db, path, GenerationStore(db, QUICK_CLAIMS))
    with failing_claim_write(write, after=when == "after") as failed, pytest.raises(InjectedFault):
        again()
    assert len(failed) == 1
    left = names(every_document(db))
    # The claim is written before the transaction and deleted after it.
    stuck_claim = write == "delete" and when == "before"
    if write == "create":
        # Failed before the create, or after it (the call drops a claim whose
        # answer it did not get): nothing is left either way.
        assert left == names(before), "a call that could not claim its key left a trace"
    else:
        assert left == {*expected["paths"], *([failed[0]] if stuck_claim else [])}
    turned_away = retry_until_taken_over(again)
    if stuck_claim and path == "sweep":
        # The rerun finds nothing stuck any more, so it never meets the claim
        # its first run left: the claim waits for its TTL, nothing else differs.
        assert turned_away == 0
        assert names(every_document(db)) == {*expected["paths"], failed[0]}
        assert db.document(failed[0]).get().get("expireAt") is not None
        return
    if not stuck_claim:
        assert turned_away == 0, "a retry waited for a claim that was not there"
    assert shape(db) == expected
    assert invariant_violations(db) == {}


@pytest.mark.parametrize("path", sorted(WRITE_PATHS))
def test_a_call_that_dies_holding_its_claim_is_taken_over_after_the_lease(
    emulator: FirestoreEmulator, db: firestore.Client, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    again, expected, before = rehearsed(emulator, db, path, GenerationStore(db, QUICK_CLAIMS))
    with monkeypatch.context() as dying:
        # The instance dies inside the transaction: no ``finally`` runs, so
        # the claim stays where it was written.
        dying.setattr(RequestClaims, "_release", lambda *_: None)
        with injected(WriteFault(1, only=in_transaction)), pytest.raises(InjectedFault):
            again()
    left = every_document(db)
    (claim,) = left.keys() - before.keys()
    assert claim.startswith(f"{REQUEST_CLAIMS}/")
    assert left.keys() >= before.keys()
    # Retries within the lease are turned away (``aborted``) and write nothing.
    patient = ClaimPolicy(wait=QUICK_CLAIMS.wait)  # the deployed lease: minutes
    with pytest.raises(Contended):
        again(GenerationStore(db, patient))
    assert every_document(db) == left
    retry_until_taken_over(again)
    assert shape(db) == expected
    assert invariant_violations(db) == {}


def test_a_worker_reporting_twice_is_charged_once(
    emulator: FirestoreEmulator, db: firestore.Client
) -> None:
    store = GenerationStore(db)
    emulator.wipe()
    generation_id = start(store)
    report(store, generation_id, "completed")
    # The answer was lost; the worker sends it again while Firestore is contended.
    with aborted_commits(2):
        report(store, generation_id, "completed")
    # And a confused second worker reports the other outcome.
    with pytest.raises(FailedPrecondition):
        report(store, generation_id, "failed")
    ledger = {doc.id for doc in db.collection("billing/alice/ledger").stream()}
    assert {entry.split("_", 1)[0] for entry in ledger} == {"daily", "hold", "charge"}
    assert invariant_violations(db) == {}


# --- scheduled jobs that die halfway and run again ---------------------------------


def seed_traffic(store: GenerationStore, rng: random.Random, count: int) -> None:
    """``count`` generations of a few users, most of them finished."""
    for index in range(count):
        caller = member(f"user-{index % 5}", {"name": f"User {index % 5}"})
        kind = rng.choice(["image", "video", "audio", "text"])
        request = TrackGenerationRequest.model_validate({"type": kind, "prompt": "p"})
        unlimited = replace(SETTINGS, credit_policy=replace(SETTINGS.credit_policy,
                                                            daily_free_floor=10**6))  # fmt: skip
        generation_id = tracking.track_generation(store, caller, request, unlimited, now())[
            "generationId"
        ]
        if rng.random() < 0.8:
            report(store, generation_id, rng.choice(["completed", "completed", "failed"]))


def die_until_done(
    job: Callable[[], object],
    rng: random.Random,
    max_step: int,
    only: Callable[[firestore.DocumentReference], bool] = lambda _: True,
) -> int:
    """Run ``job`` again and again, each run dying at a random write (of those
    ``only`` picks), until one finishes; returns how many runs died."""
    for run in range(MAX_RUNS):
        step = rng.randint(1, max_step)
        with injected(WriteFault(step, after=rng.random() < 0.5, only=only)) as fault:
            try:
                job()
            except InjectedFault:
                continue
        if not fault.fired:
            return run
    raise AssertionError(f"no run of the job finished in {MAX_RUNS} tries")


def in_windows(reference: firestore.DocumentReference) -> bool:
    collection: str = reference.parent.id
    return collection.endswith("_windows")


def test_a_rollup_that_dies_halfway_counts_everything_once_when_rerun(
    emulator: FirestoreEmulator, db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.wipe()
    rng = random.Random(5)
    store = GenerationStore(db)
    seed_traffic(store, rng, 40)
    # Small batches, so a run folds in many transactions and can die between them.
    monkeypatch.setattr(rollups, "EVENTS_PER_BATCH", 8)
    rollup_store = RollupStore(db)

    def run_all() -> None:
        for rollup in rollups.ROLLUPS:
            rollups.run_rollup(rollup_store, rollup, now() + timedelta(seconds=1), lag=timedelta(0))

    # Dying while folding; every refresh of the windows writes 90 documents,
    # more than any step here, so their own death is the next part.
    deaths = die_until_done(run_all, rng, max_step=40, only=lambda ref: not in_windows(ref))
    assert deaths >= 3
    assert invariant_violations(db) == {}
    # Then die where the windows are written, after every event was folded:
    # the next run refreshes them though nothing new arrived.
    seed_traffic(store, rng, 3)
    windows = WriteFault(1, only=in_windows)
    with injected(windows), pytest.raises(InjectedFault):
        run_all()
    assert invariant_violations(db) == {}


def test_a_sweep_that_dies_halfway_fails_each_stuck_generation_once(
    emulator: FirestoreEmulator, db: firestore.Client
) -> None:
    emulator.wipe()
    store = GenerationStore(db)
    for index in range(6):
        caller = member(f"user-{index}", {"name": f"User {index}"})
        request = TrackGenerationRequest.model_validate({"type": "image", "prompt": "p"})
        tracking.track_generation(store, caller, request, SETTINGS, now())
    deaths = die_until_done(lambda: sweep(store, ""), random.Random(7), max_step=30)
    # A death fails only the generation it hit: the sweep settles the rest first.
    assert deaths >= 1
    statuses = {doc.get("status") for doc in db.collection("live_generations").stream()}
    assert statuses == {"failed"}
    assert invariant_violations(db) == {}


def test_a_cleanup_that_dies_halfway_never_splits_a_generation(
    emulator: FirestoreEmulator, db: firestore.Client
) -> None:
    emulator.wipe()
    rng = random.Random(11)
    store = GenerationStore(db)
    seed_traffic(store, rng, 12)
    rollup_store = RollupStore(db)
    for rollup in rollups.ROLLUPS:
        rollups.run_rollup(rollup_store, rollup, now() + timedelta(seconds=1), lag=timedelta(0))
    analytics = {
        path: fields
        for path, fields in every_document(db).items()
        if path.startswith(("analytics", "billing_analytics"))
    }
    # Everything is past its retention a year from now.
    later = now() + timedelta(days=365)

    def cleanup() -> None:
        maintenance.cleanup_generations(store, SETTINGS, later, batch_size=2)

    # A batch of 2 generations is 8 deletes (both halves, the preview and the
    # output record): faults up to the 16th write let some batches commit first.
    deaths = die_until_done(cleanup, rng, max_step=16)
    assert deaths >= 2
    assert list(db.collection("live_generations").stream()) == []
    assert list(db.collection_group("generations").stream()) == []
    remaining = every_document(db)
    # Cleanup leaves the rollups alone (their raw documents are gone, so no
    # recount can be compared now) and the ledgers, which still audit clean.
    assert {path: remaining[path] for path in analytics} == analytics
    assert invariant_violations(db, with_rollups=False) == {}
