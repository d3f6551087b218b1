"""The Firestore client and the limits every adapter shares."""

from __future__ import annotations

import functools
import os

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

# Firestore's limit of writes in one batch or transaction.
MAX_BATCH_WRITES = 500


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
