"""Account deletion: a user erases their own data, or an admin erases anyone's.

What is erased, what is kept and how it is made anonymous is in
``domain/erasure.py``. The work goes step by step (``erasure.STEPS``), each in
bounded batches that record their progress in the uid's marker, so one call
does a bounded amount of work and answers ``done: false`` when there is more:
the client calls again, and a call that died is finished by the next one. A
call after the deletion finished answers the same and writes nothing, unless
the user has made new data since (the Auth account is not deleted here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firebase_functions import logger

from generations_live.adapters.deletion import AccountDeletionStore, StepResult
from generations_live.adapters.feed_snapshots import FeedSnapshotStore
from generations_live.domain import erasure
from generations_live.domain.erasure import Progress, Step
from generations_live.domain.errors import FailedPrecondition, NotFound
from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import Status
from generations_live.domain.models import DeleteAccountDataRequest, UpdateGenerationStatusRequest
from generations_live.services import feed_snapshots, tracking

# Cancels a deleted user's generations still processing, as a worker would.
ACCOUNT_ERASER = Caller(
    uid="system-account-deletion",
    display_name="Account deletion",
    email=None,
    is_admin=False,
    is_worker=True,
)
# Who erases an account from the operator command line: an admin.
OPERATOR = Caller(
    uid="operator-cli", display_name="Operator", email=None, is_admin=True, is_worker=False
)
# Generations erased per transaction (each is about six writes), and the most
# reports about them one transaction deletes with them.
GENERATIONS_PER_BATCH = 25
REPORTS_PER_BATCH = 200
# Documents deleted or rewritten per batched write.
DOCUMENTS_PER_BATCH = 200


@dataclass(frozen=True)
class Budget:
    """How much one call may do before it answers ``done: false``."""

    max_batches: int = 60
    max_seconds: float = 20.0


# A callable's budget: well within its 60-second timeout.
CALL_BUDGET = Budget()


def delete_account_data(
    store: AccountDeletionStore,
    caller: Caller,
    request: DeleteAccountDataRequest,
    now: datetime,
    *,
    budget: Budget = CALL_BUDGET,
    clock: Callable[[], float] = time.monotonic,
    feed: FeedSnapshotStore | None = None,
) -> dict[str, Any]:
    """Erase a user's data (the caller's own, or any user's for admins), as far as
    ``budget`` allows; answers where the deletion stands and what it has done.

    Deleting a uid with no data is a success that writes nothing. The call that
    finishes a deletion waits for the ``feed`` snapshots to be rebuilt without
    the user before it answers, so ``done`` means no snapshot shows them.
    """
    uid = erasure.deletion_target(caller, request.user_id)
    finished = _finished(store, uid)
    if finished is not None:
        return erasure.answer(uid, finished)
    with store.turn(uid):
        finished = _finished(store, uid)  # a concurrent call may have finished it
        if finished is not None:
            return erasure.answer(uid, finished)
        recorded = store.progress(uid)
        if recorded is not None and recorded.done:
            # New data since the deletion finished: it runs again from the start.
            recorded = Progress(counts=recorded.counts)
            store.advance(uid, recorded.step)
        progress = _run(store, uid, recorded, now, budget=budget, clock=clock)
    if progress.done and feed is not None and not feed_snapshots.forget_user(feed, uid):
        # The data is gone; the maintainer and its schedule will catch the snapshots up.
        logger.warn("feed snapshots still show an erased user", uid=uid)
    return erasure.answer(uid, progress)


def _finished(store: AccountDeletionStore, uid: str) -> Progress | None:
    """The progress of a finished deletion with nothing new to erase since, if any."""
    progress = store.progress(uid)
    if progress is not None and progress.done and not store.has_user_data(uid):
        return progress
    return None


def _run(
    store: AccountDeletionStore,
    uid: str,
    recorded: Progress | None,
    now: datetime,
    *,
    budget: Budget,
    clock: Callable[[], float],
) -> Progress:
    progress = recorded or Progress()
    # Whether the marker exists: it is only written once something was changed.
    marked = recorded is not None
    deadline = clock() + budget.max_seconds
    for _ in range(budget.max_batches):
        result = _one_batch(store, uid, progress, now)
        progress.add(result.counts)
        marked = marked or any(result.counts.values())
        if not result.finished:
            progress.cursor = result.cursor
            if marked and result.cursor is not None and not any(result.counts.values()):
                # A page that changed nothing wrote no marker: the next call starts after it.
                store.save_cursor(uid, progress.step, result.cursor)
        else:
            following = erasure.next_step(progress.step)
            if following is None:
                progress.done = True
                if marked:
                    store.finish(uid)
                return progress
            progress.step, progress.cursor = following, None
            if marked:
                store.advance(uid, following)
        if clock() >= deadline:
            break
    return progress


def _one_batch(
    store: AccountDeletionStore, uid: str, progress: Progress, now: datetime
) -> StepResult:
    step, cursor = progress.step, progress.cursor
    scans = {
        Step.LEDGER: store.scrub_ledger,
        Step.EVENTS: store.anonymise_events,
        Step.ROLLUP_USERS: store.anonymise_rollup_users,
    }
    if step in scans:
        return scans[step](uid, cursor, DOCUMENTS_PER_BATCH)
    if step is Step.GENERATIONS:
        return _erase_generations(store, uid, now)
    if step is Step.USER_DOCUMENTS:
        return store.delete_user_documents(uid, DOCUMENTS_PER_BATCH)
    if step is Step.REPORTS:
        return store.delete_reports_by(uid, DOCUMENTS_PER_BATCH)
    return store.anonymise_windows(uid)


def _erase_generations(store: AccountDeletionStore, uid: str, now: datetime) -> StepResult:
    """Cancel the next generations still processing (releasing their holds through
    the worker's path), then erase them with the rest of the batch."""
    found = store.generations_of(uid, GENERATIONS_PER_BATCH)
    if not found:
        return StepResult({}, finished=True)
    canceled = 0
    for generation_id, status in found:
        if status != Status.PROCESSING.value:
            continue
        cancel = UpdateGenerationStatusRequest.model_validate(
            {"generationId": generation_id, "status": Status.CANCELED.value}
        )
        try:
            tracking.update_generation_status(store.generations, ACCOUNT_ERASER, cancel, now)
        except (NotFound, FailedPrecondition):
            continue  # finished, or erased, meanwhile
        canceled += 1
    if canceled:
        store.add_counts(uid, Step.GENERATIONS, {erasure.SETTLED: canceled})
    erased = store.erase_generations(
        uid, [generation_id for generation_id, _ in found], REPORTS_PER_BATCH
    )
    return StepResult({**erased.counts, erasure.SETTLED: canceled})
