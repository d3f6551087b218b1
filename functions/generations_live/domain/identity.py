"""Who is calling, derived only from verified ID-token claims. Pure rules."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

ANONYMOUS_DISPLAY_NAME = "Anonymous creator"
MAX_DISPLAY_NAME_LENGTH = 80
# Names a stranger must not wear in the feed (compared as letters and digits,
# case-folded: "A.D.M.I.N" is "admin"); the deployment may add its own.
DEFAULT_RESERVED_NAMES = ("admin", "administrator", "moderator", "support", "system")


@dataclass(frozen=True)
class Caller:
    uid: str
    display_name: str
    email: str | None
    is_admin: bool
    is_worker: bool
    # From the token's ``firebase.sign_in_provider`` ("anonymous", "password",
    # "google.com", ...); None for callers that are not a signed-in user.
    sign_in_provider: str | None = None
    email_verified: bool = False


def name_key(name: str) -> str:
    """What a name says once case, spacing and punctuation are set aside."""
    return "".join(character for character in name.casefold() if character.isalnum())


def _visible(character: str) -> str:
    """Control characters become spaces; format characters (zero-width, bidi
    overrides), surrogates, private-use and unassigned ones disappear."""
    category = unicodedata.category(character)
    if category == "Cc":
        return " "
    return "" if category.startswith("C") else character


def public_display_name(
    name_claim: object, reserved: Collection[str] = DEFAULT_RESERVED_NAMES
) -> str:
    """The name shown in the public feed, from the token's ``name`` claim.

    NFKC-normalised (full-width and styled letters become plain ones), with
    invisible and direction-changing characters removed, spaces collapsed and
    the length capped. A neutral name stands in when nothing is left, when the
    name looks like an email address (the feed must never carry one), or when
    it is a reserved name such as "admin".
    """
    if not isinstance(name_claim, str):
        return ANONYMOUS_DISPLAY_NAME
    normalised = unicodedata.normalize("NFKC", name_claim)
    visible = "".join(_visible(character) for character in normalised)
    name = " ".join(visible.split())[:MAX_DISPLAY_NAME_LENGTH].strip()
    reserved_keys = {name_key(word) for word in reserved}
    if not name or "@" in name or name_key(name) in reserved_keys:
        return ANONYMOUS_DISPLAY_NAME
    return name


def caller_from_claims(
    uid: str, claims: Mapping[str, Any], reserved_names: Collection[str] = DEFAULT_RESERVED_NAMES
) -> Caller:
    """Build the caller from a verified token's claims; custom claims must be exactly ``true``."""
    email = claims.get("email")
    firebase = claims.get("firebase")
    provider = firebase.get("sign_in_provider") if isinstance(firebase, Mapping) else None
    return Caller(
        uid=uid,
        display_name=public_display_name(claims.get("name"), reserved_names),
        email=email if isinstance(email, str) else None,
        is_admin=claims.get("admin") is True,
        is_worker=claims.get("worker") is True,
        sign_in_provider=provider if isinstance(provider, str) else None,
        email_verified=claims.get("email_verified") is True,
    )
