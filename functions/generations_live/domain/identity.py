"""Who is calling, derived only from verified ID-token claims. Pure rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANONYMOUS_DISPLAY_NAME = "Anonymous creator"
MAX_DISPLAY_NAME_LENGTH = 80


@dataclass(frozen=True)
class Caller:
    uid: str
    display_name: str
    email: str | None
    is_admin: bool
    is_worker: bool


def public_display_name(name_claim: object) -> str:
    """The name shown in the public feed.

    Falls back to a neutral name when the token has none, and also when the
    name looks like an email address: the feed must never carry one.
    """
    if not isinstance(name_claim, str):
        return ANONYMOUS_DISPLAY_NAME
    name = " ".join(name_claim.split())[:MAX_DISPLAY_NAME_LENGTH]
    if not name or "@" in name:
        return ANONYMOUS_DISPLAY_NAME
    return name


def caller_from_claims(uid: str, claims: Mapping[str, Any]) -> Caller:
    """Build the caller from a verified token's claims; custom claims must be exactly ``true``."""
    email = claims.get("email")
    return Caller(
        uid=uid,
        display_name=public_display_name(claims.get("name")),
        email=email if isinstance(email, str) else None,
        is_admin=claims.get("admin") is True,
        is_worker=claims.get("worker") is True,
    )
