"""The security rules as a matrix: every collection the project uses, times
every role, times every operation, each with its expected allow or deny; then
targeted attacks. The matrix and its count are printed at the end of the run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from google.cloud import firestore

from harness.emulators import FirestoreEmulator
from harness.plugin import summary_after_the_run
from harness.rules_client import RestClient, id_token

OWNER = "owner-uid"
ROLES = ("anonymous", "stranger", "owner", "worker", "admin")
OPERATIONS = ("get", "list", "create", "update", "delete")
SIGNED_IN = frozenset({"stranger", "owner", "worker", "admin"})
OWNER_OR_ADMIN = frozenset({"owner", "admin"})
ADMIN = frozenset({"admin"})
OWNER_ONLY = frozenset({"owner"})
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    """Who may do what to one document path (and its collection, for list)."""

    path: str
    get: frozenset[str]
    list: frozenset[str]
    delete: frozenset[str]
    # No client creates or updates anything: every write goes through the functions.
    create: frozenset[str] = NOBODY
    update: frozenset[str] = NOBODY

    def allowed(self, operation: str) -> frozenset[str]:
        allowed: frozenset[str] = getattr(self, operation)
        return allowed


MATRIX = [
    Rule("live_generations/gen-1", get=SIGNED_IN, list=SIGNED_IN, delete=NOBODY),
    Rule(f"users/{OWNER}/generations/gen-1", OWNER_OR_ADMIN, OWNER_OR_ADMIN, NOBODY),
    Rule(f"users/{OWNER}/usage/2026-03-14", OWNER_OR_ADMIN, OWNER_OR_ADMIN, NOBODY),
    Rule(f"users/{OWNER}", NOBODY, NOBODY, NOBODY),
    Rule(f"billing/{OWNER}", OWNER_OR_ADMIN, ADMIN, NOBODY),
    Rule(f"billing/{OWNER}/ledger/hold_gen-1", OWNER_OR_ADMIN, OWNER_OR_ADMIN, NOBODY),
    Rule("analytics_windows/7", SIGNED_IN, SIGNED_IN, NOBODY),
    Rule("analytics_days/2026-03-14", SIGNED_IN, SIGNED_IN, NOBODY),
    Rule("analytics_day_users/2026-03-14_03", NOBODY, NOBODY, NOBODY),
    Rule("billing_analytics_windows/7", ADMIN, ADMIN, NOBODY),
    Rule("billing_analytics_days/2026-03-14", ADMIN, ADMIN, NOBODY),
    Rule("billing_analytics_day_users/2026-03-14_03", ADMIN, ADMIN, NOBODY),
    Rule("analytics_meta/generations", NOBODY, NOBODY, NOBODY),
    Rule("generation_events/gen-1-start", NOBODY, NOBODY, NOBODY),
    Rule("request_claims/5e1f0c", NOBODY, NOBODY, NOBODY),
    Rule("moderation_queue/gen-1", ADMIN, ADMIN, NOBODY),
    Rule("generation_reports/gen-1_stranger-uid", NOBODY, NOBODY, NOBODY),
    Rule("payment_reviews/evt_orphan_0001", ADMIN, ADMIN, NOBODY),
    Rule(f"account_deletions/{OWNER}", NOBODY, NOBODY, NOBODY),
    Rule("erased_generations/gen-0", NOBODY, NOBODY, NOBODY),
    Rule("role_audit/20261203T120000.000000Z-0a1b2c", NOBODY, NOBODY, NOBODY),
    # Feed snapshots are read by id, never listed; their leases are nobody's.
    Rule("feed_snapshots/all", SIGNED_IN, NOBODY, NOBODY),
    Rule("feed_snapshot_leases/all", NOBODY, NOBODY, NOBODY),
    # Previews are read by id under their generation's visibility, never listed.
    Rule("previews/gen-public", SIGNED_IN, NOBODY, NOBODY),
    Rule("previews/gen-private", OWNER_OR_ADMIN, NOBODY, NOBODY),
    Rule("previews/gen-hidden", OWNER_OR_ADMIN, NOBODY, NOBODY),
    Rule("generation_outputs/gen-1", NOBODY, NOBODY, NOBODY),
    # Notifications are their owner's alone; webhooks' secrets and outbox nobody's,
    # their delivery log and deliveries the admins'.
    Rule(f"users/{OWNER}/notifications/note-1", OWNER_ONLY, OWNER_ONLY, NOBODY),
    Rule("webhook_endpoints/hook-1", NOBODY, NOBODY, NOBODY),
    Rule("webhook_endpoints/hook-1/attempts/attempt-1", ADMIN, ADMIN, NOBODY),
    Rule("webhook_deliveries/event-1_hook-1", ADMIN, ADMIN, NOBODY),
    Rule("webhook_events/event-1", NOBODY, NOBODY, NOBODY),
    Rule("webhook_subscriptions/current", NOBODY, NOBODY, NOBODY),
]

SEED: dict[str, dict[str, Any]] = {
    "live_generations/gen-1": {"userId": OWNER, "userName": "Owner", "status": "processing"},
    f"users/{OWNER}/generations/gen-1": {"userId": OWNER, "userEmail": "owner@example.com"},
    f"users/{OWNER}": {"note": "not a document the project writes"},
    f"billing/{OWNER}": {"balance": 10, "held": 5},
    f"billing/{OWNER}/ledger/hold_gen-1": {"kind": "hold", "amount": -5},
    "feed_snapshots/all": {"entries": [], "slot": 1},
    "feed_snapshot_leases/all": {"slot": 1},
    "previews/gen-public": {"userId": OWNER, "visibility": "public", "hidden": False},
    "previews/gen-private": {"userId": OWNER, "visibility": "private", "hidden": False},
    "previews/gen-hidden": {"userId": OWNER, "visibility": "public", "hidden": True},
    "generation_outputs/gen-1": {"userId": OWNER, "visibility": "public", "outputs": []},
    f"users/{OWNER}/notifications/note-1": {"type": "generation.completed", "read": False},
    "webhook_endpoints/hook-1": {"url": "https://example.com/h", "secret": "whsec_x"},
    "webhook_events/event-1": {"type": "generation.started", "userId": OWNER},
}
RESULTS: dict[tuple[str, str, str], tuple[bool, bool]] = {}


def seed(db: firestore.Client) -> None:
    for rule in MATRIX:
        db.document(rule.path).set(SEED.get(rule.path, {"day": "2026-03-14", "total": 1}))


def attempt(client: RestClient, rule: Rule, operation: str) -> bool:
    collection, _, document_id = rule.path.rpartition("/")
    status = {
        "get": lambda: client.get(rule.path),
        # Lists carry the feed's limit: the rules refuse unbounded ones (tested apart).
        "list": lambda: client.list(collection, page_size=50),
        "create": lambda: client.create(collection, f"new-{document_id}", {"forged": "yes"}),
        "update": lambda: client.update(rule.path, {"status": "completed"}),
        "delete": lambda: client.delete(rule.path),
    }[operation]()
    if status not in (200, 403):
        raise AssertionError(f"{operation} {rule.path} answered {status}")
    allowed: bool = status == 200
    return allowed


def clients(emulator: FirestoreEmulator) -> dict[str, RestClient]:
    project = emulator.project
    return {
        "anonymous": RestClient(emulator, None),
        "stranger": RestClient(emulator, id_token(project, "stranger-uid")),
        "owner": RestClient(emulator, id_token(project, OWNER, email="owner@example.com")),
        "worker": RestClient(emulator, id_token(project, "worker-uid", worker=True)),
        "admin": RestClient(emulator, id_token(project, "admin-uid", admin=True)),
    }


def test_every_path_role_and_operation(emulator: FirestoreEmulator, db: firestore.Client) -> None:
    by_role = clients(emulator)
    for role in ROLES:
        seed(db)  # an allowed delete by the previous role must not hide this one's answer
        for rule in MATRIX:
            for operation in OPERATIONS:
                allowed = attempt(by_role[role], rule, operation)
                RESULTS[(rule.path, role, operation)] = (allowed, role in rule.allowed(operation))
    unexpected_allows = [key for key, (got, want) in RESULTS.items() if got and not want]
    unexpected_denies = [key for key, (got, want) in RESULTS.items() if want and not got]
    assert len(RESULTS) == len(MATRIX) * len(ROLES) * len(OPERATIONS)
    assert unexpected_allows == []
    assert unexpected_denies == []


def matrix_report() -> list[str]:
    """The matrix as text: one row per path and role, one column per operation."""
    if not RESULTS:
        return []
    lines = [f"{'path':46} {'role':10} " + " ".join(f"{op:6}" for op in OPERATIONS)]
    for rule in MATRIX:
        for role in ROLES:
            cells = []
            for operation in OPERATIONS:
                got, want = RESULTS[(rule.path, role, operation)]
                mark = ("allow" if got else "deny") + ("" if got == want else "!")
                cells.append(f"{mark:6}")
            lines.append(f"{rule.path:46} {role:10} " + " ".join(cells))
    allows = sum(got for got, _ in RESULTS.values())
    unexpected = sum(got and not want for got, want in RESULTS.values())
    lines.append(
        f"{len(RESULTS)} checks ({len(MATRIX)} paths x {len(ROLES)} roles x "
        f"{len(OPERATIONS)} operations): {allows} allowed, {len(RESULTS) - allows} denied, "
        f"{unexpected} unexpected allows"
    )
    return lines


summary_after_the_run("security rules matrix", matrix_report)


# Targeted attacks, each as the client that would try it.


@pytest.fixture
def attackers(emulator: FirestoreEmulator, db: firestore.Client) -> dict[str, RestClient]:
    seed(db)
    return clients(emulator)


def test_a_client_cannot_mint_or_unhold_its_own_credits(
    attackers: dict[str, RestClient], db: firestore.Client
) -> None:
    owner = attackers["owner"]
    assert owner.update(f"billing/{OWNER}", {"balance": "1000000"}) == 403
    assert owner.update(f"billing/{OWNER}", {"held": "0"}) == 403
    assert owner.create("billing", OWNER + "-twin", {"balance": "1000000"}) == 403
    assert db.document(f"billing/{OWNER}").get().to_dict() == {"balance": 10, "held": 5}


def test_a_client_cannot_forge_or_edit_the_ledger(attackers: dict[str, RestClient]) -> None:
    for role in ("owner", "worker", "admin"):
        client = attackers[role]
        assert client.create(f"billing/{OWNER}/ledger", "grant_forged", {"amount": "500"}) == 403
        assert client.update(f"billing/{OWNER}/ledger/hold_gen-1", {"amount": "0"}) == 403
        assert client.delete(f"billing/{OWNER}/ledger/hold_gen-1") == 403


def test_a_client_cannot_write_the_feed(attackers: dict[str, RestClient]) -> None:
    for role in ("owner", "worker", "admin"):
        client = attackers[role]
        assert client.create("live_generations", "forged", {"userId": OWNER}) == 403
        assert client.update("live_generations/gen-1", {"status": "completed"}) == 403


def test_strangers_read_nothing_of_another_user(attackers: dict[str, RestClient]) -> None:
    stranger = attackers["stranger"]
    for path in (
        f"users/{OWNER}/generations/gen-1",
        f"billing/{OWNER}",
        f"billing/{OWNER}/ledger/hold_gen-1",
        f"users/{OWNER}/usage/2026-03-14",
    ):
        assert stranger.get(path) == 403
        assert stranger.list(path.rpartition("/")[0]) == 403


def test_nobody_but_admins_lists_whole_collections(attackers: dict[str, RestClient]) -> None:
    for role in ("anonymous", "stranger", "owner", "worker"):
        assert attackers[role].list("billing") == 403
        assert attackers[role].list("users") == 403
    assert attackers["admin"].list("users") == 403  # nothing lives there to list


def test_no_email_is_readable_by_anyone_but_its_owner(
    attackers: dict[str, RestClient], emulator: FirestoreEmulator
) -> None:
    for role in ("anonymous", "stranger", "worker"):
        token = attackers[role]._headers
        for rule in MATRIX:
            collection = rule.path.rpartition("/")[0]
            for url in (emulator.documents_url(rule.path), emulator.documents_url(collection)):
                reply = requests.get(url, headers=token, timeout=30)
                if reply.status_code == 200:
                    assert "@" not in json.dumps(reply.json()), (role, url)


def test_nobody_forges_or_unhides_a_preview(attackers: dict[str, RestClient]) -> None:
    for role in ("owner", "worker", "admin"):
        client = attackers[role]
        assert client.create("previews", "forged", {"userId": OWNER, "visibility": "public"}) == 403
        assert client.update("previews/gen-hidden", {"hidden": "false"}) == 403
        assert client.update("previews/gen-private", {"visibility": "public"}) == 403
    assert attackers["stranger"].get("previews/gen-hidden") == 403
    assert attackers["stranger"].list("previews") == 403


def test_nobody_writes_rollups(attackers: dict[str, RestClient]) -> None:
    for role in ROLES:
        for path in (
            "analytics_windows/7",
            "billing_analytics_windows/7",
            "analytics_meta/generations",
        ):
            assert attackers[role].update(path, {"total": "999999"}) == 403
            assert attackers[role].create("analytics_windows", "8", {"total": "1"}) == 403
