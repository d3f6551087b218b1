"""``firestore.rules`` against the emulator, as web clients would meet them.

Each client is an unsigned ID token (the emulator trusts its claims), sent
over Firestore's REST API; seed data is written with the admin client.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore

from harness.emulators import FirestoreEmulator
from harness.rules_client import RestClient, id_token

UID_OWNER = "owner-uid"
UID_STRANGER = "stranger-uid"


ALLOWED = 200


@pytest.fixture
def seeded(db: firestore.Client) -> None:
    public = {"userId": UID_OWNER, "userName": "Owner", "type": "image", "status": "processing"}
    db.collection("live_generations").document("gen-1").set(
        {**public, "createdAt": firestore.SERVER_TIMESTAMP}
    )
    db.document(f"users/{UID_OWNER}/generations/gen-1").set(
        {**public, "userEmail": "owner@example.com"}
    )
    db.document(f"users/{UID_OWNER}/usage/2026-03-14").set({"day": "2026-03-14", "started": 1})
    db.document(f"billing/{UID_OWNER}").set({"balance": 10, "held": 5})
    db.document(f"billing/{UID_OWNER}/ledger/hold_gen-1").set({"kind": "hold", "amount": -5})


@pytest.fixture
def clients(emulator: FirestoreEmulator) -> dict[str, RestClient]:
    project = emulator.project
    return {
        "anonymous": RestClient(emulator, None),
        "stranger": RestClient(emulator, id_token(project, UID_STRANGER)),
        "owner": RestClient(emulator, id_token(project, UID_OWNER, email="owner@example.com")),
        "worker": RestClient(emulator, id_token(project, "worker-uid", worker=True)),
        "admin": RestClient(emulator, id_token(project, "admin-uid", admin=True)),
    }


SIGNED_IN = ["stranger", "owner", "worker", "admin"]


def listener_query(*filters: tuple[str, str]) -> dict[str, Any]:
    query: dict[str, Any] = {
        "from": [{"collectionId": "live_generations"}],
        "orderBy": [{"field": {"fieldPath": "createdAt"}, "direction": "DESCENDING"}],
        "limit": 50,
    }
    if filters:
        query["where"] = {
            "compositeFilter": {
                "op": "AND",
                "filters": [
                    {
                        "fieldFilter": {
                            "field": {"fieldPath": field},
                            "op": "EQUAL",
                            "value": {"stringValue": value},
                        }
                    }
                    for field, value in filters
                ],
            }
        }
    return query


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", SIGNED_IN)
def test_signed_in_users_read_and_listen_to_the_feed(
    clients: dict[str, RestClient], role: str
) -> None:
    client = clients[role]
    assert client.get("live_generations/gen-1") == ALLOWED
    assert client.list("live_generations") == ALLOWED
    assert client.run_query("", listener_query()) == ALLOWED
    assert client.run_query("", listener_query(("type", "image"))) == ALLOWED
    assert client.run_query("", listener_query(("status", "completed"))) == ALLOWED


@pytest.mark.usefixtures("seeded")
def test_anonymous_clients_read_nothing(clients: dict[str, RestClient]) -> None:
    client = clients["anonymous"]
    assert client.get("live_generations/gen-1") == 403
    assert client.run_query("", listener_query()) == 403
    assert client.get(f"users/{UID_OWNER}/generations/gen-1") == 403


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
def test_no_client_writes_the_feed(clients: dict[str, RestClient], role: str) -> None:
    client = clients[role]
    assert client.create("live_generations", "forged", {"userId": UID_OWNER}) == 403
    assert client.update("live_generations/gen-1", {"status": "completed"}) == 403


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
def test_nobody_deletes_from_the_feed_not_even_admins(
    clients: dict[str, RestClient], db: firestore.Client, role: str
) -> None:
    # Deleting a processing entry would leave its owner's credits held for ever:
    # moderation goes through moderateGeneration.
    assert clients[role].delete("live_generations/gen-1") == 403
    assert db.collection("live_generations").document("gen-1").get().exists


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", SIGNED_IN)
def test_the_feed_cannot_be_listed_in_one_unbounded_query(
    clients: dict[str, RestClient], role: str
) -> None:
    client = clients[role]
    # (A REST list without pageSize is served one default page, which the
    # rules see as a limit within 50; a query without a limit is refused.)
    assert client.list("live_generations", page_size=51) == 403
    assert client.list("live_generations", page_size=50) == ALLOWED
    assert client.run_query("", {**listener_query(), "limit": 1000}) == 403
    unlimited = {key: value for key, value in listener_query().items() if key != "limit"}
    assert client.run_query("", unlimited) == 403


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", ALLOWED), ("admin", ALLOWED), ("stranger", 403), ("worker", 403)],
)
def test_history_is_read_by_its_owner_and_admins(
    clients: dict[str, RestClient], role: str, expected: int
) -> None:
    client = clients[role]
    assert client.get(f"users/{UID_OWNER}/generations/gen-1") == expected
    assert client.list(f"users/{UID_OWNER}/generations") == expected


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
def test_no_client_writes_history(clients: dict[str, RestClient], role: str) -> None:
    client = clients[role]
    path = f"users/{UID_OWNER}/generations"
    assert client.create(path, "forged", {"status": "completed"}) == 403
    assert client.update(f"{path}/gen-1", {"status": "completed"}) == 403
    assert client.delete(f"{path}/gen-1") == 403


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
def test_everything_else_is_closed(clients: dict[str, RestClient], role: str) -> None:
    client = clients[role]
    assert client.get(f"users/{UID_OWNER}") == 403
    assert client.list("users") == 403
    assert client.create("anything", "x", {"a": "b"}) == 403
    assert client.get("anything/x") == 403


OWNER_PRIVATE_PATHS = [
    f"users/{UID_OWNER}/usage/2026-03-14",
    f"billing/{UID_OWNER}",
    f"billing/{UID_OWNER}/ledger/hold_gen-1",
]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("owner", ALLOWED),
        ("admin", ALLOWED),
        ("stranger", 403),
        ("worker", 403),
        ("anonymous", 403),
    ],
)
@pytest.mark.parametrize("path", OWNER_PRIVATE_PATHS)
def test_billing_and_usage_are_read_by_their_owner_and_admins(
    clients: dict[str, RestClient], role: str, expected: int, path: str
) -> None:
    assert clients[role].get(path) == expected


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("role", "expected"), [("owner", ALLOWED), ("stranger", 403)])
def test_owners_list_their_own_ledger_and_usage(
    clients: dict[str, RestClient], role: str, expected: int
) -> None:
    assert clients[role].list(f"billing/{UID_OWNER}/ledger") == expected
    assert clients[role].list(f"users/{UID_OWNER}/usage") == expected


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("role", "expected"), [("admin", ALLOWED), ("owner", 403), ("worker", 403)]
)
def test_only_admins_list_every_account(
    clients: dict[str, RestClient], role: str, expected: int
) -> None:
    assert clients[role].list("billing") == expected


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
@pytest.mark.parametrize("path", OWNER_PRIVATE_PATHS)
def test_no_client_writes_credits_or_usage(
    clients: dict[str, RestClient], db: firestore.Client, role: str, path: str
) -> None:
    client = clients[role]
    before = db.document(path).get().to_dict()
    assert client.update(path, {"balance": "1000000"}) == 403
    assert client.delete(path) == 403
    collection, _, document_id = path.rpartition("/")
    assert client.create(collection, f"forged-{document_id}", {"amount": "500"}) == 403
    assert db.document(path).get().to_dict() == before


@pytest.fixture
def rollups_seeded(db: firestore.Client) -> None:
    for path in (
        "analytics_windows/7",
        "analytics_days/2026-03-14",
        "analytics_day_users/2026-03-14_03",
        "billing_analytics_windows/7",
        "billing_analytics_days/2026-03-14",
        "billing_analytics_day_users/2026-03-14_03",
        "analytics_meta/generations",
        "generation_events/gen-1-start",
    ):
        db.document(path).set({"day": "2026-03-14", "total": 1})


GENERATION_ROLLUPS = ["analytics_windows/7", "analytics_days/2026-03-14"]
BILLING_ROLLUPS = [
    "billing_analytics_windows/7",
    "billing_analytics_days/2026-03-14",
    "billing_analytics_day_users/2026-03-14_03",
]


@pytest.mark.usefixtures("rollups_seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
@pytest.mark.parametrize("path", GENERATION_ROLLUPS + BILLING_ROLLUPS)
def test_rollups_are_read_by_their_audience_and_written_by_nobody(
    clients: dict[str, RestClient], role: str, path: str
) -> None:
    client = clients[role]
    audience = SIGNED_IN if path in GENERATION_ROLLUPS else ["admin"]
    assert client.get(path) == (ALLOWED if role in audience else 403)
    assert client.list(path.rsplit("/", 1)[0]) == (ALLOWED if role in audience else 403)
    assert client.update(path, {"total": "1000"}) == 403
    assert client.delete(path) == 403


@pytest.mark.usefixtures("rollups_seeded")
@pytest.mark.parametrize("role", ["anonymous", *SIGNED_IN])
@pytest.mark.parametrize(
    "path",
    [
        "analytics_meta/generations",
        "generation_events/gen-1-start",
        # Every creator's id and name by day, private-only creators included.
        "analytics_day_users/2026-03-14_03",
    ],
)
def test_rollup_machinery_is_closed(clients: dict[str, RestClient], role: str, path: str) -> None:
    assert clients[role].get(path) == 403
    assert clients[role].list(path.rsplit("/", 1)[0], page_size=50) == 403
    assert clients[role].update(path, {"total": "0"}) == 403
