"""Firebase Auth accounts, as the use cases ask about them."""

from __future__ import annotations

from firebase_admin import auth


def user_exists(uid: str) -> bool:
    """Whether Firebase Auth has an account with this uid."""
    try:
        auth.get_user(uid)
    except auth.UserNotFoundError:
        return False
    return True
