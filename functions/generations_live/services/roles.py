"""Granting and revoking roles (custom claims), with an append-only audit.

Order of a change: the account's claims are read (a missing account is
NotFound, nothing written); the audit entry is created; then the claims are
set and, on a revocation, the refresh tokens revoked. The entry is written
first so that no change is ever made unrecorded; if Auth then fails, a
``failed`` entry naming it follows and the error goes on to the operator.

Auth has no compare-and-set on claims: two operators changing the same
account's claims at the same instant can overwrite each other's change (each
entry still records what its operator saw and wrote).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firebase_admin import exceptions as firebase_exceptions

from generations_live.adapters import accounts
from generations_live.adapters.role_audit import RoleAuditLog
from generations_live.domain import roles
from generations_live.domain.roles import Role, RoleAction, RoleChange


@dataclass(frozen=True)
class RoleOutcome:
    change: RoleChange
    # The audit entry written, or None for a grant that changed nothing.
    entry_id: str | None
    sessions_revoked: bool


def change_role(
    audit: RoleAuditLog,
    action: RoleAction,
    role: Role,
    uid: str,
    *,
    by: str,
    os_user: str | None,
    now: datetime,
) -> RoleOutcome:
    """Grant or revoke ``role`` for account ``uid``, keeping its other claims.

    Granting a role the account holds already changes nothing and writes no
    entry. Revoking always revokes the account's refresh tokens, even when the
    claim is already gone: an ID token issued while it was there may still
    carry it, and the revocation is what makes privileged calls refuse it.
    """
    change = roles.plan(action, role, uid, accounts.custom_claims(uid))
    revokes = action is RoleAction.REVOKE
    if not change.changes_claims and not revokes:
        return RoleOutcome(change=change, entry_id=None, sessions_revoked=False)
    entry = roles.audit_entry(change, by=by, os_user=os_user, at=now, revokes_sessions=revokes)
    entry_id = audit.append(entry, now)
    try:
        if change.changes_claims:
            accounts.set_custom_claims(uid, change.after)
        if revokes:
            accounts.revoke_sessions(uid)
    except firebase_exceptions.FirebaseError as failed:
        audit.append(roles.failure_entry(entry_id, change, by=by, at=now, error=str(failed)), now)
        raise
    return RoleOutcome(change=change, entry_id=entry_id, sessions_revoked=revokes)


def roles_of(uid: str) -> list[str]:
    """The roles account ``uid`` holds (NotFound without an account)."""
    return roles.roles_held(accounts.custom_claims(uid))


@dataclass(frozen=True)
class HolderPage:
    """The role holders among the accounts one scan read, and where it stopped."""

    holders: list[tuple[str, list[str]]]
    accounts_scanned: int
    # Where the next scan resumes; None once every account was read.
    next_page_token: str | None


def role_holders(page_token: str | None, max_accounts: int) -> HolderPage:
    """Every ``(uid, roles)`` with a role among at most ``max_accounts`` accounts,
    in Auth's order from ``page_token``.

    Auth cannot query by claim, so this reads the accounts page by page; the
    page token it answers resumes the scan where it stopped.
    """
    holders: list[tuple[str, list[str]]] = []
    scanned = 0
    token = page_token
    while scanned < max_accounts:
        page, token = accounts.claims_page(token, max_accounts - scanned)
        scanned += len(page)
        holders.extend((uid, held) for uid, claims in page if (held := roles.roles_held(claims)))
        if token is None or not page:
            token = None
            break
    return HolderPage(holders=holders, accounts_scanned=scanned, next_page_token=token)
