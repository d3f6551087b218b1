"""Firebase App Check: consuming limited-use tokens, so a request cannot be replayed."""

from __future__ import annotations

from firebase_admin import app_check, exceptions

from generations_live.domain.errors import Unauthenticated, Unavailable


def consume_token(token: str) -> None:
    """Verify a limited-use App Check token and mark it used; refuse one used before.

    One call to the App Check service. The SDK has already verified the
    token's signature when the callable enforces App Check; consuming is what
    makes a captured request worthless.
    """
    try:
        claims = app_check.verify_token(token, consume=True)
    except ValueError as invalid:
        raise Unauthenticated("the App Check token is not valid") from invalid
    except exceptions.FirebaseError as unreachable:
        raise Unavailable("App Check could not be reached: try again") from unreachable
    if claims.get("already_consumed"):
        raise Unauthenticated("this App Check token was used before: send a fresh one")
