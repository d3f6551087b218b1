"""Callers as a verified ID token names them, for use cases driven in-process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generations_live.domain.identity import Caller, caller_from_claims

# A Google account: a provider whose accounts get free credits by default.
GOOGLE_SIGN_IN = {"firebase": {"sign_in_provider": "google.com"}}


def member(uid: str, claims: Mapping[str, Any] | None = None) -> Caller:
    """A user signed in with a Google account, with ``claims`` (name, roles) added."""
    return caller_from_claims(uid, {**GOOGLE_SIGN_IN, **(claims or {})})
