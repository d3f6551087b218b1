"""Request claims: calls that carry the same idempotency key take turns.

A start retried with its ``requestId``, reports on one generation, a replayed
grant or payment event: the transaction alone keeps each exactly once, and the
claim keeps a burst of them from contending for the same documents, where every
one would read and then write the user's account and lose to the others again
and again. The one holding the claim runs; the others wait, then run after it
and find its work done (or refuse a move its work made impossible).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from firebase_functions import logger
from google.api_core import exceptions as google_exceptions
from google.cloud import firestore

from generations_live.adapters.collections import REQUEST_CLAIMS
from generations_live.domain.errors import Contended

# A call waiting for the claim of an earlier one with the same key checks
# again after a pause that starts short (the holder's transaction usually
# takes milliseconds) and doubles up to this cap.
CLAIM_FIRST_PAUSE_S = 0.02
CLAIM_PAUSE_CAP_S = 0.25


@dataclass(frozen=True)
class ClaimPolicy:
    """How calls that carry the same idempotency key take turns."""

    # How long a duplicate waits for the call ahead of it before it is told
    # to retry (``aborted``); well within a callable's 60 s timeout.
    wait: timedelta = timedelta(seconds=20)
    # After this long a claim is presumed left behind by an instance that
    # died holding it, and the next call takes it over. Longer than any
    # function runs, so a live holder is never overtaken.
    lease: timedelta = timedelta(minutes=2)
    # A claim nobody released (its holder died) is removed by the TTL policy
    # on ``expireAt`` after this long.
    kept_for: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class _Claim:
    ref: firestore.DocumentReference
    written_at: datetime


class RequestClaims:
    """The ``request_claims`` collection: one document per key while its call runs."""

    def __init__(self, client: firestore.Client, policy: ClaimPolicy) -> None:
        self._client = client
        self._policy = policy

    @contextlib.contextmanager
    def held(self, key: str) -> Iterator[None]:
        """Hold the claim on ``key`` for the block: wait for it, then release it."""
        claim = self._take(key)
        try:
            yield
        finally:
            self._release(claim)

    def _take(self, key: str) -> _Claim:
        digest = hashlib.sha256(key.encode()).hexdigest()
        ref: firestore.DocumentReference = self._client.document(REQUEST_CLAIMS, digest)
        deadline = time.monotonic() + self._policy.wait.total_seconds()
        pause = CLAIM_FIRST_PAUSE_S
        holder = uuid.uuid4().hex
        fields = {
            "key": key,
            "holder": holder,
            "expireAt": datetime.now(UTC) + self._policy.kept_for,
        }
        while True:
            try:
                written = ref.create(fields)
            except google_exceptions.AlreadyExists:
                pass
            except Exception:
                # The create may have reached Firestore although its answer
                # did not: drop the claim if it is ours, so a retry need not
                # wait out the lease.
                self._drop_if_held_by(ref, holder)
                raise
            else:
                return _Claim(ref, written.update_time)
            if self._take_over_if_abandoned(ref):
                continue
            if time.monotonic() >= deadline:
                raise Contended("an earlier call with the same id is still running; retry shortly")
            time.sleep(random.uniform(pause / 2, pause))  # noqa: S311 - jitter, not a secret
            pause = min(CLAIM_PAUSE_CAP_S, pause * 2)

    def _take_over_if_abandoned(self, ref: firestore.DocumentReference) -> bool:
        """Whether the claim is free to take: released, or held past its lease.

        The age is measured on the server's clock (read time minus update
        time), and the delete only succeeds if nobody renewed the claim since.
        """
        snapshot = ref.get()
        if not snapshot.exists:
            return True
        if snapshot.read_time - snapshot.update_time < self._policy.lease:
            return False
        self._delete_unless_changed(ref, snapshot.update_time)
        return True

    def _delete_unless_changed(
        self, ref: firestore.DocumentReference, written_at: datetime
    ) -> None:
        """Delete a claim as it was written at ``written_at``; if it was deleted or
        written again since (taken over by another call), it is not ours to delete."""
        with contextlib.suppress(google_exceptions.FailedPrecondition, google_exceptions.NotFound):
            ref.delete(option=self._client.write_option(last_update_time=written_at))

    def _drop_if_held_by(self, ref: firestore.DocumentReference, holder: str) -> None:
        try:
            snapshot = ref.get()
            if snapshot.exists and snapshot.get("holder") == holder:
                self._delete_unless_changed(ref, snapshot.update_time)
        except google_exceptions.GoogleAPIError as error:
            logger.warn("a request claim may stay until its lease ends", error=str(error))

    def _release(self, claim: _Claim) -> None:
        """Delete the claim, unless it was taken over after its lease (then it is not ours).

        The work is done (or refused) by now, so a failure here only delays
        the next call with this key until the lease ends; it is logged and
        must not turn a finished call into an error.
        """
        try:
            self._delete_unless_changed(claim.ref, claim.written_at)
        except google_exceptions.GoogleAPIError as error:
            logger.warn("a request claim was not released", claim=claim.ref.path, error=str(error))
