"""Roles: the custom claims that make an account a worker or an admin, and what
granting or revoking one does to an account's claims. Pure rules.

A role is held only when its claim is exactly ``true`` (``identity.caller_from_claims``
honours nothing else), so a grant always writes ``true`` and a revocation removes the
claim whatever its value. Other claims are kept as they are.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from generations_live.domain.errors import FailedPrecondition

# Firebase Auth's own bound on a uid.
MAX_UID_LENGTH = 128
# Firebase Auth's bound on an account's custom claims: characters of their JSON
# as the Admin SDK writes it (``json.dumps`` with its default separators).
MAX_CLAIMS_CHARACTERS = 1000
# The operator named in an audit entry: an account or a person's handle, not prose.
MAX_OPERATOR_LENGTH = 128


class Role(enum.StrEnum):
    ADMIN = "admin"
    WORKER = "worker"


class RoleAction(enum.StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


def _has_control_characters(text: str) -> bool:
    return any(ord(character) < 0x20 or ord(character) == 0x7F for character in text)


def uid_problem(uid: str) -> str | None:
    """Why ``uid`` cannot name an account, or None when it can."""
    if not uid:
        return "must not be empty"
    if len(uid) > MAX_UID_LENGTH:
        return f"must be at most {MAX_UID_LENGTH} characters"
    if "/" in uid:
        return "must not contain '/'"
    if _has_control_characters(uid):
        return "must not contain control characters"
    return None


def operator_problem(operator: str) -> str | None:
    """Why ``operator`` cannot be recorded as who ran a command, or None."""
    if not operator.strip():
        return "must not be empty"
    if len(operator) > MAX_OPERATOR_LENGTH:
        return f"must be at most {MAX_OPERATOR_LENGTH} characters"
    if _has_control_characters(operator):
        return "must not contain control characters"
    return None


def holds(claims: Mapping[str, Any], role: Role) -> bool:
    return claims.get(role.value) is True


def roles_held(claims: Mapping[str, Any]) -> list[str]:
    """The roles these claims grant, in a stable order."""
    return [role.value for role in Role if holds(claims, role)]


@dataclass(frozen=True)
class RoleChange:
    """What one grant or revocation does to one account's claims."""

    action: RoleAction
    role: Role
    uid: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changes_claims(self) -> bool:
        # Compared as JSON: in Python 1 == True, but a claim of 1 is no role.
        return _canonical(self.before) != _canonical(self.after)


def _canonical(claims: Mapping[str, Any]) -> str:
    return json.dumps(claims, sort_keys=True, separators=(",", ":"))


def plan(action: RoleAction, role: Role, uid: str, claims: Mapping[str, Any]) -> RoleChange:
    """The claims after ``action``: a grant sets the claim to ``true``, a revocation
    removes it; every other claim is kept."""
    before = dict(claims)
    after = {name: value for name, value in before.items() if name != role.value}
    if action is RoleAction.GRANT:
        after[role.value] = True
    size = len(json.dumps(after))
    if size > MAX_CLAIMS_CHARACTERS:
        raise FailedPrecondition(
            f"the account's custom claims would take {size} characters of JSON: Firebase "
            f"Auth allows {MAX_CLAIMS_CHARACTERS}"
        )
    return RoleChange(action=action, role=role, uid=uid, before=before, after=after)


def audit_entry(
    change: RoleChange, *, by: str, os_user: str | None, at: datetime, revokes_sessions: bool
) -> dict[str, Any]:
    """The append-only record of a change, written before the change is made."""
    return {
        "action": change.action.value,
        "role": change.role.value,
        "uid": change.uid,
        "by": by,
        "osUser": os_user,
        "at": at,
        "claimsBefore": change.before,
        "claimsAfter": change.after,
        "changesClaims": change.changes_claims,
        "revokesSessions": revokes_sessions,
    }


def failure_entry(
    entry_id: str, change: RoleChange, *, by: str, at: datetime, error: str
) -> dict[str, Any]:
    """The record that the change of entry ``entry_id`` failed part-way."""
    return {
        "action": "failed",
        "failedEntry": entry_id,
        "role": change.role.value,
        "uid": change.uid,
        "by": by,
        "at": at,
        "error": error[:500],
    }
