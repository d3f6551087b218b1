"""The append-only audit of role changes: ``role_audit/{entryId}``.

Entries are created under fresh ids and never updated or deleted by the code;
the rules close the collection to every client.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from generations_live.adapters.collections import ROLE_AUDIT


def entry_id(at: datetime) -> str:
    """A unique id that sorts by time: ``YYYYMMDDTHHMMSS.ffffffZ-<random>``."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:16]}"


class RoleAuditLog:
    def __init__(self, client: firestore.Client) -> None:
        self._client = client

    def append(self, entry: dict[str, Any], at: datetime) -> str:
        """Create one entry (``create()``: an existing id fails, nothing is overwritten)."""
        new_id = entry_id(at)
        self._client.collection(ROLE_AUDIT).document(new_id).create(entry)
        return new_id
