"""The Firestore client and the limits every adapter shares."""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

from google.api_core import exceptions as google_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from generations_live.domain.errors import Contended

# Firestore's limit of writes in one batch or transaction.
MAX_BATCH_WRITES = 500
# Firestore aborts a transaction that loses a race for a document, and the
# client library retries it at once, keeping its place in line. A burst on
# one document (a user's billing document, a rollup's cursor) can still keep
# losing, so rounds of attempts are spaced out with jittered exponential
# backoff, which breaks the lockstep, before the caller is told to retry.
ATTEMPTS_PER_ROUND = 5
CONTENTION_ROUNDS = 8
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0

Result = TypeVar("Result")


def lost_a_race(error: Exception) -> bool:
    """Whether a transaction failed only because concurrent ones kept winning."""
    if isinstance(error, google_exceptions.Aborted):
        return True
    return isinstance(error.__cause__, google_exceptions.Aborted)


def run_transaction(
    client: firestore.Client,
    work: Callable[[firestore.Transaction], Result],
    *,
    contended: str,
) -> Result:
    """Run ``work`` in one transaction (it may run again while the transaction
    retries), in rounds against contention; ``Contended(contended)`` after the last."""
    attempt = firestore.transactional(work)
    for round_number in range(CONTENTION_ROUNDS):
        try:
            result: Result = attempt(client.transaction(max_attempts=ATTEMPTS_PER_ROUND))
        except (ValueError, google_exceptions.Aborted) as lost:
            if not lost_a_race(lost):
                raise
            backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**round_number)
            time.sleep(random.uniform(0, backoff))  # noqa: S311 - jitter, not a secret
            continue
        return result
    raise Contended(contended)


@functools.cache
def default_client() -> firestore.Client:
    """The process-wide client, built on first use rather than at import.

    Against the emulator no credentials exist (``demo-*`` projects), so the
    client is given anonymous ones explicitly.
    """
    project = os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return firestore.Client(project=project, credentials=credentials)
    return firestore.Client(project=project)
