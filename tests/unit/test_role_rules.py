"""Role rules: a grant writes exactly ``true`` and keeps every other claim, a
revocation removes the claim whatever its value, and bad uids are named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from generations_live.domain import roles
from generations_live.domain.errors import FailedPrecondition
from generations_live.domain.identity import caller_from_claims
from generations_live.domain.roles import Role, RoleAction


def test_a_grant_sets_the_claim_to_true_and_keeps_the_others() -> None:
    change = roles.plan(RoleAction.GRANT, Role.WORKER, "u1", {"tier": "pro", "admin": True})

    assert change.after == {"tier": "pro", "admin": True, "worker": True}
    assert change.before == {"tier": "pro", "admin": True}
    assert change.changes_claims
    assert caller_from_claims("u1", change.after).is_worker


@pytest.mark.parametrize("almost", ["true", 1, "yes", {"on": True}])
def test_a_claim_that_is_not_exactly_true_is_no_role_and_a_grant_replaces_it(
    almost: object,
) -> None:
    claims = {"worker": almost}
    assert roles.roles_held(claims) == []
    assert not caller_from_claims("u1", claims).is_worker

    change = roles.plan(RoleAction.GRANT, Role.WORKER, "u1", claims)
    assert change.after == {"worker": True}
    assert change.changes_claims


def test_granting_a_held_role_changes_nothing() -> None:
    change = roles.plan(RoleAction.GRANT, Role.ADMIN, "u1", {"admin": True, "tier": "pro"})

    assert not change.changes_claims
    assert change.after == change.before


@pytest.mark.parametrize("value", [True, "true", False])
def test_a_revocation_removes_the_claim_whatever_its_value(value: object) -> None:
    change = roles.plan(RoleAction.REVOKE, Role.WORKER, "u1", {"worker": value, "admin": True})

    assert change.after == {"admin": True}
    assert roles.roles_held(change.after) == ["admin"]


def test_revoking_a_role_not_held_changes_no_claim() -> None:
    change = roles.plan(RoleAction.REVOKE, Role.WORKER, "u1", {"admin": True})
    assert not change.changes_claims


def test_claims_past_firebase_auths_bound_are_refused() -> None:
    big = {"note": "x" * 990}
    with pytest.raises(FailedPrecondition, match="1000"):
        roles.plan(RoleAction.GRANT, Role.WORKER, "u1", big)


def test_the_audit_entry_records_who_when_and_what() -> None:
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    change = roles.plan(RoleAction.REVOKE, Role.WORKER, "u1", {"worker": True})
    entry = roles.audit_entry(change, by="ops", os_user="deploy", at=at, revokes_sessions=True)

    assert entry == {
        "action": "revoke",
        "role": "worker",
        "uid": "u1",
        "by": "ops",
        "osUser": "deploy",
        "at": at,
        "claimsBefore": {"worker": True},
        "claimsAfter": {},
        "changesClaims": True,
        "revokesSessions": True,
    }


@pytest.mark.parametrize(
    ("uid", "problem"),
    [
        ("", "empty"),
        ("u" * 129, "128"),
        ("a/b", "'/'"),
        ("tab\there", "control"),
    ],
)
def test_bad_uids_are_named(uid: str, problem: str) -> None:
    found = roles.uid_problem(uid)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize("uid", ["u", "u" * 128, "Zx9-_.:@+"])
def test_good_uids_pass(uid: str) -> None:
    assert roles.uid_problem(uid) is None


@pytest.mark.parametrize("operator", ["", "   ", "x" * 129, "ops\nadmin"])
def test_bad_operators_are_refused(operator: str) -> None:
    assert roles.operator_problem(operator) is not None
