"""The role audit is closed to every client: nobody, an admin included, reads,
lists, forges, edits or deletes an entry."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from generations_live.adapters.collections import ROLE_AUDIT
from harness.emulators import FirestoreEmulator
from harness.rules_client import RestClient, id_token

ENTRY = "20261203T120000.000000Z-0a1b2c3d"
RECORDED = {
    "action": "revoke",
    "role": "worker",
    "uid": "worker-uid",
    "by": "ops-oncall",
    "claimsBefore": {"worker": True},
    "claimsAfter": {},
}


@pytest.fixture
def recorded(db: firestore.Client) -> firestore.DocumentReference:
    entry = db.collection(ROLE_AUDIT).document(ENTRY)
    entry.create(RECORDED)
    return entry


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("anonymous", None),
        ("stranger", {}),
        ("the audited worker", {"worker": True}),
        ("admin", {"admin": True}),
        ("admin and worker", {"admin": True, "worker": True}),
    ],
)
def test_no_client_reads_or_writes_the_role_audit(
    emulator: FirestoreEmulator,
    recorded: firestore.DocumentReference,
    role: str,
    claims: dict[str, bool] | None,
) -> None:
    uid = "worker-uid" if role == "the audited worker" else f"{role.replace(' ', '-')}-uid"
    token = None if claims is None else id_token(emulator.project, uid, **claims)
    client = RestClient(emulator, token)
    path = f"{ROLE_AUDIT}/{ENTRY}"

    assert client.get(path) == 403
    assert client.list(ROLE_AUDIT, page_size=10) == 403
    assert client.create(ROLE_AUDIT, "forged-entry", {"action": "grant", "role": "admin"}) == 403
    assert client.update(path, {"by": "someone else"}) == 403
    assert client.delete(path) == 403

    assert recorded.get().to_dict() == RECORDED
    assert [doc.id for doc in recorded.parent.stream()] == [ENTRY]
