"""Firebase Auth accounts, as the use cases ask about them."""

from __future__ import annotations

from typing import Any

import firebase_admin
from firebase_admin import auth

from generations_live.domain.errors import NotFound, Unauthenticated


def user_exists(uid: str) -> bool:
    """Whether Firebase Auth has an account with this uid."""
    try:
        auth.get_user(uid)
    except auth.UserNotFoundError:
        return False
    return True


# Roles live in custom claims. The callable edge re-checks privileged tokens here,
# and the operator CLI changes claims here.

# The Auth API's page size when listing accounts.
MAX_LIST_PAGE = 1000


def ensure_app() -> None:
    """The default Firebase app, for processes that did not start one (the CLI).

    It takes the project from ``GCLOUD_PROJECT``, and talks to the Auth emulator
    when ``FIREBASE_AUTH_EMULATOR_HOST`` is set; no network call is made here.
    """
    try:
        firebase_admin.get_app()
    except ValueError:
        firebase_admin.initialize_app()


def verify_session(id_token: str) -> None:
    """Refuse an ID token whose session was revoked, or whose account is disabled or gone.

    One call to Firebase Auth (``check_revoked``): for privileged callers only,
    so that a revoked role stops working at once rather than when the token expires.
    """
    try:
        auth.verify_id_token(id_token, check_revoked=True)
    except auth.RevokedIdTokenError as revoked:
        raise Unauthenticated("the session was revoked: sign in again") from revoked
    except auth.UserDisabledError as disabled:
        raise Unauthenticated("the account is disabled") from disabled
    except auth.UserNotFoundError as gone:
        raise Unauthenticated("the account no longer exists") from gone
    except auth.InvalidIdTokenError as invalid:
        raise Unauthenticated("the ID token is no longer valid: sign in again") from invalid


def custom_claims(uid: str) -> dict[str, Any]:
    """The account's custom claims (empty when it has none); NotFound without an account."""
    try:
        user = auth.get_user(uid)
    except auth.UserNotFoundError as missing:
        raise NotFound(f"no account has uid {uid!r}", details={"field": "uid"}) from missing
    return dict(user.custom_claims or {})


def set_custom_claims(uid: str, claims: dict[str, Any]) -> None:
    """Replace the account's custom claims (an empty dict removes them all)."""
    auth.set_custom_user_claims(uid, claims or None)


def revoke_sessions(uid: str) -> None:
    """Revoke the account's refresh tokens: ID tokens issued before now fail the
    ``check_revoked`` verification (Auth counts in whole seconds)."""
    auth.revoke_refresh_tokens(uid)


def claims_page(
    page_token: str | None, max_accounts: int
) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
    """One page of at most ``max_accounts`` (up to MAX_LIST_PAGE) accounts as
    ``(uid, custom claims)``, and the token of the next page (None after the last)."""
    page = auth.list_users(page_token=page_token, max_results=min(max_accounts, MAX_LIST_PAGE))
    accounts = [(user.uid, dict(user.custom_claims or {})) for user in page.users]
    return accounts, page.next_page_token or None


def delete_account(uid: str) -> bool:
    """Delete the Firebase Auth account; False if there was none."""
    try:
        auth.delete_user(uid)
    except auth.UserNotFoundError:
        return False
    return True
